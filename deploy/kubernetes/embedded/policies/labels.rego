# BR-SP-102: custom labels from pod annotations — the ConfigMap's labels.rego in Rego v1.
#
# Every annotation whose key starts with "kubernaut.ai/label-", keyed by the full
# annotation key (the document does not strip the prefix, and neither does this).
# The document's unconditional `custom_labels := {}` conflicts with any non-empty
# result; here it is a `default`. (The comprehension alone is already {} when no
# annotation matches or there is no pod; the default keeps the document's stated
# fallback explicit should the rule ever get a condition.)
package labels

default custom_labels := {}

custom_labels := {k: v |
	some k, v in input.pod.annotations
	startswith(k, "kubernaut.ai/label-")
}
