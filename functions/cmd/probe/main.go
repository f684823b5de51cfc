// Command probe is the health-probe Lambda behind each Region's HTTP API: Route 53
// calls it, and it round-trips MQTT messages through this Region's IoT broker.
package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/iot-dr/iot-dr/functions/awsclients"
	"github.com/iot-dr/iot-dr/functions/probe"
	"github.com/iot-dr/iot-dr/functions/spec"
)

func main() {
	log := awsclients.Logger()
	slog.SetDefault(log)
	if err := run(context.Background(), log); err != nil {
		log.Error("probe cannot start", "error", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, log *slog.Logger) error {
	cfg, err := awsclients.Config(ctx)
	if err != nil {
		return err
	}
	env := map[string]string{}
	for _, name := range []string{spec.EnvProbeEndpoint, spec.EnvProbeDomain, spec.EnvProbeSecretParam, spec.EnvProbeCertParam, spec.EnvProbeForceFailParam} {
		if env[name], err = awsclients.Env(name); err != nil {
			return err
		}
	}
	messages, err := awsclients.EnvInt(spec.EnvProbeMessages, probe.DefaultMessages)
	if err != nil {
		return err
	}
	timeoutMS, err := awsclients.EnvInt(spec.EnvProbeTimeoutMS, int(probe.DefaultTimeout.Milliseconds()))
	if err != nil {
		return err
	}
	// Dial this Region's endpoint but name the custom domain (SNI) and verify its
	// certificate: the path devices take through this Region's domain configuration.
	broker, _, err := probe.BrokerURL(env[spec.EnvProbeEndpoint])
	if err != nil {
		return err
	}
	store := ssm.NewFromConfig(cfg)
	// The certificate is read once per cold start; the secret is cached for a minute
	// (a rotation is picked up at once and the previous secret accepted for a while:
	// RotatingSecret); the drill switch is re-read every few seconds.
	pem, err := (&probe.Parameter{Store: store, Name: env[spec.EnvProbeCertParam], Decrypt: true}).Get(ctx)
	if err != nil {
		return err
	}
	tlsCfg, err := probe.ClientTLS([]byte(pem), env[spec.EnvProbeDomain])
	if err != nil {
		return err
	}
	gate, err := catchUpGate(cfg.Region)
	if err != nil {
		return err
	}
	h := &probe.Handler{
		Secret:    &probe.RotatingSecret{Store: store, Name: env[spec.EnvProbeSecretParam], Logger: log},
		ForceFail: (&probe.Parameter{Store: store, Name: env[spec.EnvProbeForceFailParam], TTL: 3 * time.Second, Logger: log}).Bool,
		Probe:     &probe.Prober{Broker: broker, TLS: tlsCfg, Messages: messages, Timeout: time.Duration(timeoutMS) * time.Millisecond},
		Logger:    log,
	}
	if gate != nil {
		gate.Table = dynamodb.NewFromConfig(cfg)
		h.CatchUp = gate
	}
	lambda.Start(h.Handle)
	return nil
}

// catchUpGate is the failback gate the environment configures (nil without a mark
// table), its table client still to be set.
func catchUpGate(region string) (*probe.Gate, error) {
	table := os.Getenv(spec.EnvProbeMarkTable)
	if table == "" {
		return nil, nil
	}
	holdMS, err := awsclients.EnvInt(spec.EnvProbeCatchUpHoldMS, 0)
	if err != nil {
		return nil, err
	}
	if holdMS <= 0 {
		return nil, fmt.Errorf("%s must be set (the health checks' failure threshold x interval, ms) with %s", spec.EnvProbeCatchUpHoldMS, spec.EnvProbeMarkTable)
	}
	maxAgeMS, err := awsclients.EnvInt(spec.EnvProbeCatchUpMaxAgeMS, int(probe.DefaultCatchUpMaxAge.Milliseconds()))
	if err != nil {
		return nil, err
	}
	return &probe.Gate{Name: table, Region: region, Hold: time.Duration(holdMS) * time.Millisecond,
		MaxAge: time.Duration(maxAgeMS) * time.Millisecond}, nil
}
