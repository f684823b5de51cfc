// Package route53 is the simulator's model of Amazon Route 53 health checks and
// failover records: the piece that decides, from HTTP probes of each Region's
// health endpoint, whether the custom domain answers with the primary or the
// secondary Region.
//
// It is not a fake of the Route 53 API (there is no *route53.Client surface):
// the Pulumi program declares the real health checks and records, and the
// simulator builds the equivalent objects here directly. It is for tests and
// drills, never production.
//
// # Health checks
//
// Semantics follow "How Amazon Route 53 determines whether a health check is
// healthy" for HTTP/HTTPS endpoint checks:
//
//   - Checkers (default 8) stand for Route 53's checker locations. They do not
//     coordinate: each probes the URL every Interval, their first probes
//     staggered evenly across one Interval.
//   - A probe succeeds when the endpoint answers with HTTP 2xx or 3xx within
//     Timeout. Redirects are not followed (a 3xx is itself a success). Every
//     probe opens a new connection, as the real checkers do, and carries the
//     header X-Checker with the checker's index so tests can fail some
//     checkers selectively.
//   - Each checker starts healthy (Route 53 considers a new health check
//     healthy until it has data) and flips only after FailureThreshold
//     consecutive failures (or, when unhealthy, consecutive successes), which
//     damps single failures and flapping.
//   - The health check is healthy while MORE than 18% of its checkers report
//     healthy, so with 8 checkers it turns unhealthy once 7 of them have
//     failed FailureThreshold times in a row.
//
// Not modelled: TCP and string-matching checks, calculated and CloudWatch-alarm
// checks, inverted checks, checker regions and their latency, the separate 4 s
// connect / 2 s first-byte budgets (one overall Timeout instead), and the delay
// with which Route 53 propagates a status change to its DNS servers (the zone
// sees a change the moment the check flips).
//
// # Failover records
//
// A Zone holds failover record pairs (PRIMARY and SECONDARY with the same name
// and type A) and answers as Route 53 documents for failover routing:
//
//   - the primary while its health check is healthy;
//   - otherwise the secondary, if it is healthy or has no health check;
//   - otherwise (both unhealthy) the primary: when every record is unhealthy
//     Route 53 responds as if all were healthy.
//
// A record without a health check is always healthy. Answers carry the chosen
// record's TTL. Not modelled: alias records and "evaluate target health",
// weighted/latency/geolocation policies, record types other than A, multiple
// values per record, and DNSSEC.
package route53
