# Governance for a multi-tenant platform: may this subject, for this tenant, perform
# this action on this module (and resource), for this purpose?
#
# Every rule below adds one stable deny code; the verdict allows exactly when none
# applies. Each rule looks tenant and module up by key and tests membership in a short
# list, so a decision costs the same however many tenants and modules data.json holds.
# Garbage input (missing or mistyped fields, a non-object) never errors: lookups just
# miss and the matching deny codes apply.
package governance

# Fail closed: only reachable if the rule below could not be evaluated at all.
default verdict := {"allow": false, "reasons": ["policy_error"]}

verdict := {"allow": count(deny) == 0, "reasons": sort(deny)}

# The module catalogue for the runtime's kill-switch cold start; any risk other than
# "core" is reported as "high", so a typo in data blocks rather than opens a module.
modules[name] := {"risk": risk_of(m)} if {
	some name, m in data.governance.module_catalog
}

risk_of(m) := "core" if {
	m.risk == "core"
} else := "high"

tenant := data.governance.tenants[input.tenant]

module := data.governance.module_catalog[input.module]

high_risk if risk_of(module) == "high"

subject_given if {
	is_string(input.subject)
	trim_space(input.subject) != ""
}

purpose_given if {
	is_string(input.purpose)
	input.purpose != ""
}

# A resource, when the request names one, lives under "<tenant>/".
resource_in_tenant if {
	is_string(input.tenant)
	is_string(input.resource)
	startswith(input.resource, concat("", [input.tenant, "/"]))
}

deny contains "tenant_unknown" if not tenant

deny contains "tenant_suspended" if tenant.status == "suspended"

deny contains "module_unknown" if not module

deny contains "module_not_enabled" if {
	module
	not input.module in tenant.modules
}

deny contains "action_not_allowed" if {
	module
	not input.action in module.actions
}

deny contains "subject_missing" if not subject_given

deny contains "resource_other_tenant" if {
	input.resource != null
	not resource_in_tenant
}

# Purposes are governed for high-risk modules only; a core module ignores them.
deny contains "purpose_required" if {
	high_risk
	not purpose_given
}

deny contains "purpose_not_allowed" if {
	high_risk
	purpose_given
	not input.purpose in module.purposes
}

deny contains "purpose_not_consented" if {
	high_risk
	purpose_given
	not input.purpose in tenant.consents
}
