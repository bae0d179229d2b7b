# BR-SP-051: environment from the namespace — the ConfigMap's environment.rego in Rego v1.
#
# The document's unconditional `environment := "unknown"` conflicts with every
# matching rule; here it is a `default`. The document is also ambiguous when a
# namespace's `environment` label and its name prefix disagree (label "staging",
# name "prod-payments"): two rules would give two values, a conflict. Precedence,
# decided here: the label wins over the name prefix. One `else` chain tries the
# label values first, then the prefixes, and the first match is the answer.
# A label with another value ("qa") does not count; the prefix then decides.
package environment

default environment := "unknown"

environment := "production" if {
	input.namespace.labels.environment == "production"
} else := "staging" if {
	input.namespace.labels.environment == "staging"
} else := "development" if {
	input.namespace.labels.environment == "development"
} else := "production" if {
	startswith(input.namespace.name, "prod-")
} else := "staging" if {
	startswith(input.namespace.name, "staging-")
} else := "development" if {
	startswith(input.namespace.name, "dev-")
}
