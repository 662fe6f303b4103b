package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/oactl/oactl/internal/auth"
	"github.com/oactl/oactl/internal/config"
	"github.com/oactl/oactl/internal/db"
	"github.com/oactl/oactl/internal/keyseal"
)

// rekeyOptions are the settings of `oactl sessions rekey`.
type rekeyOptions struct {
	DSN        string
	ConfigFile string
	Secrets    []string
	Actor      string
	where      origin // names each setting's source in errors

	dbConfig db.Config       // parsed by validate
	sealer   *keyseal.Sealer // parsed by validate; never nil after it
}

// newSessionsRekeyCmd re-encrypts stored session_keys with the first
// OA_SESSION_KEY_SECRET: the middle step of a key rotation, and the way
// to encrypt keys stored before a secret was configured.
func newSessionsRekeyCmd(f *factory, runF func(*rekeyOptions) error) *cobra.Command {
	o := &rekeyOptions{}
	var set *config.Set
	cmd := &cobra.Command{
		Use:   "rekey",
		Short: "Re-encrypt stored session_keys with the first OA_SESSION_KEY_SECRET",
		Long: `rekey rewrites every stored session_key so that it is sealed with the first
secret of OA_SESSION_KEY_SECRET (or of the file OA_SESSION_KEY_SECRET_FILE
names, or oa.session-key-secret in --config, as serve reads it; secrets have
no flag, so they never show in ps). Keys sealed with any of the other
secrets, and keys stored unencrypted before a secret was set, are opened and
sealed again; keys already sealed with the first secret are left alone, so
rekey can run again after an interruption. Keys sealed by releases before
HKDF-SHA256 (stored as v1:...) are sealed again as v2:, even with the same
secret.

The first secret must be at least 32 bytes. The others only open old keys and
may be shorter: a secret from before that rule is migrated by
  OA_SESSION_KEY_SECRET=NEW-32-BYTES-OR-MORE,OLD-SHORT oactl sessions rekey
while serve is stopped (serve refuses a short secret), then serve starts with NEW.

Rotation:
  1. restart every serve with OA_SESSION_KEY_SECRET=NEW,OLD  (NEW seals, both open)
  2. OA_SESSION_KEY_SECRET=NEW,OLD oactl sessions rekey
  3. restart every serve with OA_SESSION_KEY_SECRET=NEW      (OLD is gone)`,
		Example: `  OA_SESSION_KEY_SECRET_FILE=/run/secrets/session_key_secrets OA_DB='mysql://oa:pw@127.0.0.1:3306/oa' oactl sessions rekey`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := f.resolve(set); err != nil {
				return err
			}
			o.where = set.Where
			if err := o.validate(); err != nil {
				return err
			}
			var err error
			if o.Actor, err = resolveActor(set, o.Actor, f.io.Getenv); err != nil {
				return err
			}
			warnPasswordFlag(f.logger(), set, o.dbConfig)
			if runF != nil {
				return runF(o)
			}
			return runRekey(cmd.Context(), f.io, o)
		},
	}
	set = config.Settings.For("sessions rekey", cmd.Flags())
	set.String("db", &o.DSN)
	set.String("config", &o.ConfigFile)
	set.Strings("session-key-secret", &o.Secrets)
	set.String("actor", &o.Actor)
	return cmd
}

// validate builds the sealer: the first secret seals and must be at
// least keyseal.MinSecretLen bytes; the others only open, and may be
// shorter, so that keys sealed with a secret from before that rule can be
// migrated to the new one.
func (o *rekeyOptions) validate() error {
	var err error
	if o.dbConfig, err = checkDSN(o.where.of("db"), o.DSN); err != nil {
		return withExit(exitUsage, err)
	}
	keep := trimSecrets(o.Secrets)
	if len(keep) == 0 {
		return usageError("rekey needs the session-key secrets: set OA_SESSION_KEY_SECRET (or OA_SESSION_KEY_SECRET_FILE, or oa.session-key-secret in --config)")
	}
	sealer, err := keyseal.NewMigrating(keep[0], keep[1:]...)
	if err != nil {
		return withExit(exitUsage, fmt.Errorf("%s: %w", o.where.of("session-key-secret"), err))
	}
	o.sealer = sealer
	return nil
}

func runRekey(ctx context.Context, s *stdio, o *rekeyOptions) error {
	// A missing file has no keys to rekey: creating it would hide a wrong --db.
	d, err := db.Open(ctx, o.DSN, db.Options{NoCreate: true})
	if err != nil {
		return openDBError(err, o.dbConfig)
	}
	defer d.Close()
	sealer := o.sealer
	current := sealer.SealingKeyID()
	a := auth.Audit{Actor: o.Actor, At: time.Now().UTC().Truncate(time.Second)}
	n, err := d.RekeySessionKeys(ctx, a, func(tokenHash, stored string) (string, bool, error) {
		// v1 values (the old SHA-256 derivation) are never current: a
		// rekey seals them again as v2, even with the same secret.
		if stored == "" || sealer.IsCurrent(stored) {
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
	fmt.Fprintf(s.Out, "re-encrypted %d session keys with key %s\n", n, current)
	return nil
}
