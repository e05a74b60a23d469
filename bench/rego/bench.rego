package bench

import rego.v1

# (a) Enabled member accounts without a registered MFA method.
registrations := {r.id: r | some r in input.m365.userRegistrationDetails}

mfa_registered(user_id) if registrations[user_id].isMfaRegistered == true

mfa_unregistered contains user.id if {
	some user in input.m365.users
	user.accountEnabled == true
	user.userType == "Member"
	not mfa_registered(user.id)
}

# (b) Enabled inbox rules that forward to an address outside the accepted domains.
internal_domains := {lower(d.domainName) | some d in input.m365.acceptedDomains}

forward_fields := ["forwardTo", "redirectTo", "forwardAsAttachmentTo"]

# The lower-case part after the last "@", without a trailing dot; "" when there is no "@".
address_domain(address) := "" if not contains(address, "@")

address_domain(address) := domain if {
	contains(address, "@")
	parts := split(trim_space(address), "@")
	domain := trim_right(lower(parts[count(parts) - 1]), ".")
}

is_internal(address) if {
	some d in internal_domains
	address_domain(address) == d
}

is_internal(address) if {
	some d in internal_domains
	endswith(address_domain(address), concat("", [".", d]))
}

recipients(actions) := [address |
	some field in forward_fields
	some r in object.get(actions, field, [])
	address := r.emailAddress.address
	is_string(address)
	address != ""
]

external_forwarding contains rule.id if {
	some rule in input.m365.inboxRules
	rule.isEnabled == true
	is_object(rule.actions)
	some address in recipients(rule.actions)
	not is_internal(address)
}

# (c) Enabled accounts whose latest sign-in (or creation, without any) is 90 days old or older.
nanoseconds_per_day := ((24 * 60) * 60) * 1000000000

cutoff := time.parse_rfc3339_ns(input.collectedAt) - (90 * nanoseconds_per_day)

# Graph reports 0001-01-01T00:00:00Z for a sign-in that never happened; real
# sign-ins are after 1971.
never := time.parse_rfc3339_ns("1971-01-01T00:00:00Z")

sign_in_fields := ["lastSignInDateTime", "lastNonInteractiveSignInDateTime", "lastSuccessfulSignInDateTime"]

sign_ins(user) := [ns |
	is_object(user.signInActivity)
	some field in sign_in_fields
	value := object.get(user.signInActivity, field, null)
	is_string(value)
	# Nanoseconds since 1970 in 64 bits cannot hold year 1, so skip it before parsing.
	not startswith(value, "0001-")
	ns := time.parse_rfc3339_ns(value)
	ns > never
]

last_activity(user) := max(times) if {
	times := sign_ins(user)
	count(times) > 0
}

last_activity(user) := time.parse_rfc3339_ns(user.createdDateTime) if {
	count(sign_ins(user)) == 0
	is_string(user.createdDateTime)
}

recently_active(user) if last_activity(user) > cutoff

stale_accounts contains user.id if {
	some user in input.m365.users
	user.accountEnabled == true
	not recently_active(user)
}

violations := {
	"mfa_unregistered": mfa_unregistered,
	"external_forwarding": external_forwarding,
	"stale_accounts": stale_accounts,
}
