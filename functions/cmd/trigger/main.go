// Command trigger is the Lambda on the event table's replica stream: it starts one
// apply execution per replicated event.
package main

import (
	"context"
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sfn"

	"github.com/iot-dr/iot-dr/functions/awsclients"
	"github.com/iot-dr/iot-dr/functions/spec"
	"github.com/iot-dr/iot-dr/functions/trigger"
)

func main() {
	log := awsclients.Logger()
	ctx := context.Background()
	cfg, err := awsclients.Config(ctx)
	machine, err2 := awsclients.Env(spec.EnvStateMachineARN)
	table, err3 := awsclients.Env(spec.EnvErrorTable)
	for _, e := range []error{err, err2, err3} {
		if e != nil {
			log.Error("trigger cannot start", "error", e)
			os.Exit(1)
		}
	}
	h := &trigger.Handler{
		Region: cfg.Region, StateMachineARN: machine, SFN: sfn.NewFromConfig(cfg),
		Errors: dynamodb.NewFromConfig(cfg), ErrorTableName: table, Logger: log,
	}
	slog.SetDefault(log)
	lambda.Start(h.Handle)
}
