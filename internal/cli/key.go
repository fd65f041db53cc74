package cli

import (
	"errors"
	"fmt"
	"os"
	"strings"
)

// keySource says where the API key was read from, for the start-up log
// line; never the key itself.
type keySource struct {
	from    string // "key file /etc/smartlead/key (--api-key-file)" or "SMARTLEAD_API_KEY"
	ignored string // a second source that was set and lost, or ""
}

// readKey reads the API key. The key file wins over SMARTLEAD_API_KEY
// when both are given: naming a file is the more deliberate act, and the
// variable is often left over in a shell profile.
func (e *env) readKey(fs *flagSet, c *apiFlags) error {
	envKey, envSet := e.LookupEnv(apiKeyEnv)
	if c.apiKeyFile != "" {
		b, err := os.ReadFile(c.apiKeyFile)
		if err != nil {
			var pe *os.PathError
			if errors.As(err, &pe) {
				err = pe.Err
			}
			return badFlag(fs, "api-key-file", fmt.Errorf("cannot read the key file: %w", err))
		}
		c.apiKey = strings.TrimSpace(string(b))
		warnExposedKeyFile(c.apiKeyFile, e.stderr)
		if c.apiKey == "" {
			return badFlag(fs, "api-key-file", fmt.Errorf("key file %s is empty; paste the key from SmartLead (Settings, API) into it", c.apiKeyFile))
		}
		c.key = keySource{from: fmt.Sprintf("key file %s (%s)", c.apiKeyFile, flagSource(fs, "api-key-file"))}
		if envSet {
			c.key.ignored = apiKeyEnv
		}
	} else {
		c.apiKey = strings.TrimSpace(envKey)
		switch {
		case !envSet:
			return usageErrorf("no API key: set %s or pass --api-key-file FILE (or set %s)", apiKeyEnv, apiKeyFileEnv)
		case c.apiKey == "":
			return usageErrorf("%s is set but empty: put the key in it, or unset it and pass --api-key-file FILE", apiKeyEnv)
		}
		c.key = keySource{from: apiKeyEnv}
	}
	if strings.ContainsAny(c.apiKey, " \t\r\n") {
		if c.apiKeyFile != "" {
			return badFlag(fs, "api-key-file", errors.New("the key file holds more than one word; it must hold only the key"))
		}
		return usageErrorf("%s holds more than one word; it must hold only the key", apiKeyEnv)
	}
	e.secrets.add(c.apiKey)
	return nil
}
