# BR-SP-070: priority from severity and environment — the ConfigMap's priority.rego in Rego v1.
#
# The document ends with an unconditional `priority := "P2"`; beside the specific
# rules that is a second value for the same rule, so every input they match
# (e.g. critical/production → "P0") fails with a conflict at evaluation. Here the
# fallback is a `default`: it applies exactly when no rule below does.
#
# The rules are mutually exclusive, so at most one applies: each names one
# severity, and where the environment matters one rule says == "production" and
# the other != "production". As in the document, `!=` needs input.environment to
# be present: a critical or error signal without an environment gets the default
# (SignalProcessing always classifies one, "unknown" at worst).
package priority

default priority := "P2"

priority := "P0" if {
	input.severity == "critical"
	input.environment == "production"
}

priority := "P1" if {
	input.severity == "critical"
	input.environment != "production"
}

priority := "P1" if {
	input.severity == "error"
	input.environment == "production"
}

priority := "P2" if {
	input.severity == "error"
	input.environment != "production"
}

priority := "P2" if {
	input.severity == "warning"
}

priority := "P3" if {
	input.severity == "info"
}
