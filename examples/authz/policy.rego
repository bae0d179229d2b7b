# Role-based access with tenant isolation; roles and their actions live in data.json.
package authz

default allow := false

# Admins may do anything their role grants, in any tenant.
allow if {
	some role in input.user.roles
	role == "admin"
	input.action in data.authz.roles[role]
}

# Everyone else acts only inside their own tenant.
allow if {
	some role in input.user.roles
	input.action in data.authz.roles[role]
	input.user.tenant == input.resource.tenant
}

reasons contains sprintf("role %s may not %s", [role, input.action]) if {
	not allow
	some role in input.user.roles
	not input.action in data.authz.roles[role]
}

reasons contains "cross-tenant access" if {
	not allow
	input.user.tenant != input.resource.tenant
}
