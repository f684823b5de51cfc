// Command apply is the Lambda on the state table's replica stream: it converges this
// Region to the items other Regions captured.
package main

import (
	"context"
	"os"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/iot-dr/iot-dr/functions/applymark"
	"github.com/iot-dr/iot-dr/functions/awsclients"
	"github.com/iot-dr/iot-dr/functions/spec"
)

func main() {
	awsclients.StartPipeline("apply", func(p *awsclients.Pipeline) any {
		// The pipeline required the mark table (spec.EnvMarkTable); the apply records its
		// batches' progress there too, for the probe's failback catch-up gate.
		table := os.Getenv(spec.EnvMarkTable)
		log := awsclients.Logger()
		cfg, err := awsclients.Config(context.Background())
		if err != nil { // the pipeline was built from the same configuration: not expected
			log.Error("apply progress not recorded: no AWS configuration", "error", err)
			return p.Apply.Handle
		}
		progress := &applymark.Progress{Table: dynamodb.NewFromConfig(cfg), Name: table, Region: p.Region, Logger: log}
		return progress.Track(p.Apply.Handle)
	})
}
