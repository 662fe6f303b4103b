package main

import (
	"github.com/spf13/cobra"

	"github.com/oactl/oactl/internal/config"
)

// resolveDBFlag fills --db, when the command line did not give it, from
// OA_DB or from oa.db in the YAML file of --config (or OA_CONFIG): the
// same precedence as serve, for the commands that only need a database.
// configFile may be updated from OA_CONFIG.
func resolveDBFlag(c *cobra.Command, getenv func(string) string, configFile *string) error {
	if *configFile == "" && getenv != nil {
		*configFile = getenv("OA_CONFIG")
	}
	var file *config.File
	if *configFile != "" {
		var err error
		if file, err = config.Load(*configFile); err != nil {
			return usageError("%v", err)
		}
	}
	// The DSN may hold a password: a malformed one is not echoed.
	settings := []config.Setting{{Flag: "db", Env: "OA_DB", YAML: "oa.db", Secret: true}}
	if err := config.Resolve(settings, c.Flags(), getenv, file); err != nil {
		return usageError("%v", err)
	}
	return nil
}
