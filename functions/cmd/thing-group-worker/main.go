// Command thing-group-worker is the Lambda the apply state machine calls for thing group, membership and hierarchy events.
package main

import (
	"context"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/iot-dr/iot-dr/functions/awsclients"
)

func main() {
	log := awsclients.Logger()
	h, _, err := awsclients.Workers(context.Background(), log)
	if err != nil {
		log.Error("thing-group-worker cannot start", "error", err)
		os.Exit(1)
	}
	lambda.Start(h.ThingGroup)
}
