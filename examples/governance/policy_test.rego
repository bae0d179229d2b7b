package governance_test

import data.governance

allowed := {"allow": true, "reasons": []}

denied(reasons) := {"allow": false, "reasons": reasons}

test_core_module_allows_permitted_action if {
	governance.verdict == allowed with input as {"tenant": "globex", "subject": "bob", "module": "reporting", "action": "export", "resource": "globex/reports/q3"}
}

test_ai_inference_allows_consented_purpose if {
	governance.verdict == allowed with input as {"tenant": "acme", "subject": "svc-support", "module": "ai_inference", "action": "invoke", "purpose": "support_assistant"}
}

test_suspended_tenant_is_denied_even_for_core_modules if {
	governance.verdict == denied(["tenant_suspended"]) with input as {"tenant": "initech", "subject": "peter", "module": "identity", "action": "read"}
}

test_module_not_enabled_for_tenant if {
	governance.verdict == denied(["module_not_enabled", "purpose_not_consented"]) with input as {"tenant": "acme", "subject": "ml", "module": "ai_training", "action": "train", "purpose": "model_improvement"}
}

test_high_risk_module_requires_purpose if {
	governance.verdict == denied(["purpose_required"]) with input as {"tenant": "globex", "subject": "ml", "module": "ai_training", "action": "evaluate", "purpose": ""}
}

test_purpose_must_be_allowed_and_consented if {
	governance.verdict == denied(["purpose_not_allowed", "purpose_not_consented"]) with input as {"tenant": "acme", "subject": "svc", "module": "ai_inference", "action": "invoke", "purpose": "marketing"}
}

test_resource_must_live_under_the_tenant if {
	governance.verdict == denied(["resource_other_tenant"]) with input as {"tenant": "globex", "subject": "bob", "module": "billing", "action": "refund", "resource": "acme/invoices/1"}
}

test_whitespace_subject_is_missing if {
	governance.verdict == denied(["subject_missing"]) with input as {"tenant": "acme", "subject": "  ", "module": "billing", "action": "create"}
}

test_unknown_module_skips_action_check if {
	governance.verdict == denied(["module_unknown"]) with input as {"tenant": "acme", "subject": "alice", "module": "payroll", "action": "anything"}
}

test_empty_input_is_denied if {
	governance.verdict == denied(["module_unknown", "subject_missing", "tenant_unknown"]) with input as {}
}

test_verdict_is_defined_without_data if {
	governance.verdict == denied(["module_unknown", "tenant_unknown"]) with input as {"tenant": "acme", "subject": "alice", "module": "billing", "action": "read"}
		with data.governance.tenants as {}
		with data.governance.module_catalog as {}
}

test_unrecognised_risk_is_reported_high if {
	governance.modules == {"billing": {"risk": "core"}, "vision": {"risk": "high"}} with data.governance.module_catalog as {
		"billing": {"risk": "core"},
		"vision": {"risk": "experimental"},
	}
}

test_unrecognised_risk_needs_a_purpose if {
	governance.verdict == denied(["purpose_required"]) with input as {"tenant": "acme", "subject": "alice", "module": "billing", "action": "read"}
		with data.governance.module_catalog.billing.risk as "experimental"
}
