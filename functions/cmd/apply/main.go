// Command apply is the Lambda on the state table's replica stream: it converges this
// Region to the items other Regions captured.
package main

import "github.com/iot-dr/iot-dr/functions/awsclients"

func main() {
	awsclients.StartPipeline("apply", func(p *awsclients.Pipeline) any { return p.Apply.Handle })
}
