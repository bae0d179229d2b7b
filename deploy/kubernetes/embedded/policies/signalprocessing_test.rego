package signalprocessing_test

import data.environment
import data.labels
import data.priority

test_critical_production_is_p0 if {
	priority.priority == "P0" with input as {"severity": "critical", "environment": "production"}
}

test_unknown_severity_falls_back_to_p2 if {
	priority.priority == "P2" with input as {"severity": "debug", "environment": "production"}
}

test_label_wins_over_name_prefix if {
	environment.environment == "staging" with input as {"namespace": {"name": "prod-payments", "labels": {"environment": "staging"}}}
}

test_unlabelled_unprefixed_namespace_is_unknown if {
	environment.environment == "unknown" with input as {"namespace": {"name": "payments"}}
}

test_only_prefixed_annotations_become_labels if {
	labels.custom_labels == {"kubernaut.ai/label-team": "checkout"} with input as {"pod": {"annotations": {"kubernaut.ai/label-team": "checkout", "owner": "sre"}}}
}

test_no_annotations_no_labels if {
	labels.custom_labels == {} with input as {"pod": {}}
}
