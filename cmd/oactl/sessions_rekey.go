package main

import (
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/oactl/oactl/internal/db"
	"github.com/oactl/oactl/internal/keyseal"
)

type rekeyOptions struct {
	Secrets []string
}

// newSessionsRekeyCmd re-encrypts stored session_keys with the first
// --session-key-secret: the middle step of a key rotation, and the way
// to encrypt keys stored before a secret was configured.
func newSessionsRekeyCmd(f *factory) *cobra.Command {
	o := &rekeyOptions{}
	cmd := &cobra.Command{
		Use:   "rekey",
		Short: "Re-encrypt stored session_keys with the first --session-key-secret",
		Long: `rekey rewrites every stored session_key so that it is sealed with the first
secret of --session-key-secret (or OA_SESSION_KEY_SECRET). Keys sealed with any
of the other secrets, and keys stored unencrypted before a secret was set, are
opened and sealed again; keys already sealed with the first secret are left
alone, so rekey can run again after an interruption.

Rotation:
  1. restart every serve with --session-key-secret NEW,OLD  (NEW seals, both open)
  2. oactl sessions rekey --session-key-secret NEW,OLD
  3. restart every serve with --session-key-secret NEW      (OLD is gone)`,
		Example: `  OA_SESSION_KEY_SECRET=new-secret,old-secret oactl sessions rekey --db 'mysql://oa:pw@127.0.0.1:3306/oa'`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			// --db and --config are the parent's persistent flags.
			configFile, _ := cmd.Flags().GetString("config")
			if err := resolveDBFlag(cmd, f.io.Getenv, &configFile); err != nil {
				return err
			}
			dsn, _ := cmd.Flags().GetString("db")
			if !cmd.Flags().Changed("session-key-secret") {
				if v := f.io.Getenv("OA_SESSION_KEY_SECRET"); v != "" {
					o.Secrets = strings.Split(v, ",")
				}
			}
			return runRekey(cmd, f, dsn, o)
		},
	}
	cmd.Flags().StringSliceVar(&o.Secrets, "session-key-secret", nil, "NEW[,OLD...]: the first seals, all open (env OA_SESSION_KEY_SECRET)")
	return cmd
}

func runRekey(cmd *cobra.Command, f *factory, dsn string, o *rekeyOptions) error {
	sealer, err := newSealer(o.Secrets)
	if err != nil {
		return withExit(exitUsage, err)
	}
	if sealer == nil {
		return usageError("rekey needs --session-key-secret (or OA_SESSION_KEY_SECRET)")
	}
	d, err := db.Open(cmd.Context(), dsn, db.Options{})
	if err != nil {
		return fmt.Errorf("open database: %w", err)
	}
	defer d.Close()
	current := sealer.SealingKeyID()
	n, err := d.RekeySessionKeys(cmd.Context(), func(tokenHash, stored string) (string, bool, error) {
		if stored == "" || keyseal.SealedKeyID(stored) == current {
			return stored, false, nil
		}
		plain, err := sealer.Open(stored, tokenHash)
		if err != nil {
			return "", false, errors.New("cannot open its session_key with any given secret (is the old secret missing from the list?)")
		}
		sealed, err := sealer.Seal(plain, tokenHash)
		if err != nil {
			return "", false, err
		}
		return sealed, true, nil
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(f.io.Out, "re-encrypted %d session keys with key %s\n", n, current)
	return nil
}
