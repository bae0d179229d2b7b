/**
 * SignalProcessing policies as a ConfigMap of a Kubernetes controller holds them,
 * kept verbatim: pre-1.0 Rego with unconditional fallbacks that conflict with the
 * specific rules at evaluation time. Tests use them as the update that must be refused.
 */

export const VERBATIM_PRIORITY = `package priority

# Default priority assignment based on severity and environment
priority := "P0" {
    input.severity == "critical"
    input.environment == "production"
}

priority := "P1" {
    input.severity == "critical"
    input.environment != "production"
}

priority := "P1" {
    input.severity == "error"
    input.environment == "production"
}

priority := "P2" {
    input.severity == "error"
    input.environment != "production"
}

priority := "P2" {
    input.severity == "warning"
}

priority := "P3" {
    input.severity == "info"
}

# Default fallback
priority := "P2"
`;

export const VERBATIM_ENVIRONMENT = `package environment

# Classify environment from namespace labels
environment := "production" {
    input.namespace.labels["environment"] == "production"
}

environment := "production" {
    startswith(input.namespace.name, "prod-")
}

environment := "staging" {
    input.namespace.labels["environment"] == "staging"
}

environment := "staging" {
    startswith(input.namespace.name, "staging-")
}

environment := "development" {
    input.namespace.labels["environment"] == "development"
}

environment := "development" {
    startswith(input.namespace.name, "dev-")
}

# Default fallback
environment := "unknown"
`;

export const VERBATIM_LABELS = `package labels

# Extract custom labels from pod annotations
custom_labels := labels {
    labels := {k: v |
        some k
        v := input.pod.annotations[k]
        startswith(k, "kubernaut.ai/label-")
    }
}

# Default empty labels
custom_labels := {}
`;
