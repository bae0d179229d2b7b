package authz_test

import data.authz

test_editor_writes_own_tenant if {
	authz.allow with input as {"user": {"roles": ["editor"], "tenant": "acme"}, "action": "write", "resource": {"tenant": "acme"}}
}

test_editor_cannot_delete if {
	not authz.allow with input as {"user": {"roles": ["editor"], "tenant": "acme"}, "action": "delete", "resource": {"tenant": "acme"}}
}
