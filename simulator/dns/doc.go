// Package dns is the simulator's DNS: an authoritative server on loopback that
// speaks the real DNS wire protocol for one zone (the custom domain whose
// failover records package route53 models), and the device-side Resolver that
// simulated devices and the probe use to find their broker.
//
// Because the server speaks the protocol, devices can use an ordinary
// net.Resolver (PreferGo, dialling the server) and re-resolve on every
// reconnect. Resolver adds the small TTL-honouring cache that real devices get
// from their stub resolver or OS, which net.Resolver does not have.
//
// It is for tests and drills, never production.
//
// # Server semantics
//
//   - UDP and TCP on the same loopback port; one question per message, opcode
//     QUERY only (others: NOTIMP; malformed: FORMERR; messages whose header
//     cannot be read are dropped).
//   - Names inside the Source's domain: A (or ANY) queries get one A record
//     with the Source's TTL; other types for an existing name get an empty
//     NOERROR answer (NODATA); unknown names get NXDOMAIN. All of these carry
//     the AA (authoritative) bit.
//   - Names outside the domain get REFUSED: the server is not a recursive
//     resolver.
//   - TTLs are whole seconds on the wire, rounded up, so a positive TTL never
//     becomes 0. Drills that scale time can use WithTTLUnit on both the server
//     and the Resolver so that one wire unit means, say, 10 ms.
//   - The answer is computed per query from the Source, so a failover shows up
//     in the very next response.
//
// Not modelled: EDNS (an OPT record in a query is ignored and none is sent
// back), SOA/NS records and negative-caching TTLs, CNAME chains, DNSSEC, zone
// transfers, truncation (answers are always tiny) and the propagation delay
// between Route 53's name servers.
package dns
