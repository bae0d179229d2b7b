# The kill-switch state: a data pack. The runtime reads `killswitch/state` after each
# activation; a module whose entry says `active: true` is blocked.
package killswitch

# No switch data (or a malformed document) is "no switches", never undefined.
default state := {}

state := data.killswitch.modules if is_object(data.killswitch.modules)
