package store

import (
	"context"
	"regexp"
)

// The organisation use cases of the Web API (api/organizations); all are
// administrators'.

// orgKeyRe is what an organisation key may be.
var orgKeyRe = regexp.MustCompile(`^[a-z0-9][a-z0-9-]*$`)

// CreateOrganization creates an organisation.
func CreateOrganization(ctx context.Context, s Store, caller Caller, o Organization) (Organization, error) {
	if err := requireAdmin(caller); err != nil {
		return o, err
	}
	if !orgKeyRe.MatchString(o.Key) {
		return o, Errorf(EInvalid, "Organization key '%s' must contain only lowercase letters, digits and dashes, and start with a letter or digit", o.Key)
	}
	if o.Name == "" {
		return o, Errorf(EInvalid, "The 'name' parameter is missing")
	}
	o.Created = Now()
	err := s.Update(ctx, func(tx Tx) error {
		if _, err := tx.Organization(o.Key); err == nil {
			return Errorf(EInvalid, "Key '%s' is already used. Specify another one.", o.Key)
		}
		return tx.PutOrganization(o)
	})
	return o, err
}

// orgAndMember resolves an organisation and an active user.
func orgAndMember(tx Tx, org, login string) (User, error) {
	if err := CheckOrganization(tx, org); err != nil {
		return User{}, err
	}
	return activeUser(tx, login, "User with login '%s' is not found'")
}

// AddOrganizationMember makes a user a member of an organisation and
// returns the user.
func AddOrganizationMember(ctx context.Context, s Store, caller Caller, org, login string) (User, error) {
	if err := requireAdmin(caller); err != nil {
		return User{}, err
	}
	var u User
	err := s.Update(ctx, func(tx Tx) error {
		var err error
		if u, err = orgAndMember(tx, org, login); err != nil {
			return err
		}
		return AddOrgMember(tx, org, u)
	})
	return u, err
}

// RemoveOrganizationMember ends a membership (see RemoveOrgMember), keeping
// an administrator of the instance and of every project.
func RemoveOrganizationMember(ctx context.Context, s Store, caller Caller, org, login string) error {
	if err := requireAdmin(caller); err != nil {
		return err
	}
	return s.Update(ctx, func(tx Tx) error {
		u, err := orgAndMember(tx, org, login)
		if err != nil {
			return err
		}
		return RemoveOrgMember(tx, org, u)
	})
}
