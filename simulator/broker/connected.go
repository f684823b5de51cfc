package broker

// ClientConnected reports whether a client with this client id holds a live
// connection: what fleet indexing's connectivity.connected says of a thing whose
// devices connect with the thing name as client id (the registry's dynamic groups
// read it).
func (b *Broker) ClientConnected(clientID string) bool {
	cl, ok := b.srv.Clients.Get(clientID)
	return ok && !cl.Closed()
}
