package main

import (
	"os"
	"os/user"
	"strconv"
	"strings"

	"github.com/oactl/oactl/internal/auth"
	"github.com/oactl/oactl/internal/config"
)

// resolveActor is who the audit rows of a support command name (SPEC
// §11): --actor, else OA_ACTOR, else oa.actor, else the OS user's name. A
// given name that is empty after trimming, too long, holds control
// characters or is the reserved "user" is a usage error naming its
// source. An OS user literally named "user" (common in containers)
// becomes "os:user", so the trail never reads as a self-cancel.
func resolveActor(set *config.Set, given string, getenv func(string) string) (string, error) {
	if set.Source("actor") != config.FromDefault {
		given = strings.TrimSpace(given)
		if err := auth.ValidateActor(given); err != nil {
			return "", usageError("%s %q: %v", set.Where("actor"), given, err)
		}
		return given, nil
	}
	name := osUserName(getenv)
	if strings.EqualFold(name, auth.ActorUser) {
		name = "os:" + name
	}
	name = auth.CutUTF8(name, auth.MaxActor)
	if auth.ValidateActor(name) != nil {
		return "", usageError("cannot tell who you are from the OS user %q: give --actor NAME (or OA_ACTOR)", name)
	}
	return name, nil
}

// osUserName is the OS user running oactl: the account database's name,
// else $USER or $LOGNAME, else "uid:N" (a container's numeric user has no
// name).
func osUserName(getenv func(string) string) string {
	if u, err := user.Current(); err == nil {
		if u.Username != "" {
			return u.Username
		}
		return "uid:" + u.Uid
	}
	for _, v := range []string{"USER", "LOGNAME", "USERNAME"} {
		if s := strings.TrimSpace(getenv(v)); s != "" {
			return s
		}
	}
	return "uid:" + strconv.Itoa(os.Getuid())
}
