package drive

import (
	"context"
	"fmt"
	"os"

	"github.com/kmsconform/kmsconform/targets"
	awstarget "github.com/kmsconform/kmsconform/targets/aws"
	"github.com/kmsconform/kmsconform/targets/emulator"
	"github.com/kmsconform/kmsconform/targets/endpoint"
)

// Spec names a target to open.
type Spec struct {
	Kind       targets.Kind // emulator (also ""), endpoint or aws
	Endpoint   string       // for endpoint
	Region     string
	ConfigPath string // ginkgo.yml; "" finds it (FindConfig)
	// ConfirmAccount is --confirm-account: the aws target runs only when
	// it names the caller's account.
	ConfirmAccount string
	// Mutant runs the emulator as that mutant (emulator.Mutants), for
	// mutation testing only; "" for none. Other kinds ignore it.
	Mutant string
}

// SpecFromEnv reads a Spec from the environment, as a Ginkgo or go test
// run does: KMSCONFORM_TARGET, KMSCONFORM_ENDPOINT, KMSCONFORM_REGION,
// KMSCONFORM_CONFIG and KMSCONFORM_CONFIRM_ACCOUNT.
func SpecFromEnv() Spec {
	return Spec{Kind: targets.Kind(os.Getenv("KMSCONFORM_TARGET")), Endpoint: os.Getenv("KMSCONFORM_ENDPOINT"),
		Region: os.Getenv("KMSCONFORM_REGION"), ConfigPath: os.Getenv("KMSCONFORM_CONFIG"),
		ConfirmAccount: os.Getenv("KMSCONFORM_CONFIRM_ACCOUNT")}
}

// Open builds the target a Spec names, with ginkgo.yml's settings.
func Open(ctx context.Context, s Spec) (targets.Target, error) {
	path := s.ConfigPath
	if path == "" {
		path = FindConfig()
	}
	cfg, err := targets.LoadConfig(path)
	if err != nil {
		return nil, err
	}
	switch s.Kind {
	case targets.KindEmulator, "":
		return emulator.NewMutantTarget(ctx, cfg, s.Mutant)
	case targets.KindEndpoint:
		return endpoint.New(ctx, cfg, s.Endpoint, s.Region)
	case targets.KindAWS:
		return awstarget.New(ctx, cfg, s.Region, s.ConfirmAccount)
	}
	return nil, fmt.Errorf("unknown target %q (emulator, endpoint or aws)", s.Kind)
}
