// Package dynamo is an in-process fake of one DynamoDB table with its stream,
// TTL deletes and global-table replication, for the iot-dr simulator.
//
// A Table implements the aws-sdk-go-v2 dynamodb client signatures PutItem,
// GetItem, DeleteItem and Scan and returns the SDK's own error types
// (*types.ResourceNotFoundException, *types.ConditionalCheckFailedException,
// *types.InternalServerError), or a *smithy.GenericAPIError with code
// "ValidationException" for requests it cannot serve, so production code that
// depends on narrow interfaces with those signatures runs unchanged.
//
// Semantics modelled:
//
//   - Items are keyed by a single hash key (S, N or B). Items are deep-copied on
//     the way in and out; callers never share memory with the table.
//   - ConditionExpression supports only attribute_not_exists(<hashkey>),
//     attribute_exists(<hashkey>) and the version guard
//     "attribute_not_exists(<hashkey>) OR <attr> < :value" with a number value, and
//     "<attr> = :value" with a string value
//     (ExpressionAttributeNames and ExpressionAttributeValues allowed; a stored
//     attribute that is missing or not a number compares false, as in DynamoDB);
//     any other expression is refused with a ValidationException rather than
//     ignored. Reads are always strongly consistent.
//   - Scan returns items in a stable order (sorted by key), honours Limit, a
//     1 MB page size and ExclusiveStartKey. As in DynamoDB, LastEvaluatedKey is
//     set whenever a page stopped because of Limit or size, so the last page of
//     an exact multiple may be empty.
//   - The stream (StreamView NEW_IMAGE, NEW_AND_OLD_IMAGES, OLD_IMAGE or
//     KEYS_ONLY) holds one record per item-level change, in commit order, read as
//     aws-lambda-go events.DynamoDBEventRecord values (Read, ReadShard) or as
//     Records that write the JSON a Lambda's event carries (ReadShardRecords,
//     AppendEventJSON); a record's images are the table's own stored items,
//     shared, not copies. A write that does not
//     change the item writes no record, as in DynamoDB Streams. Sequence
//     numbers are zero-padded decimals, so string order equals numeric order.
//     Records are retained for 24 hours of table-clock time (configurable with
//     WithStreamRetention), like DynamoDB Streams; readers that fall behind the
//     trim horizon silently resume at the oldest retained record (DynamoDB
//     would return TrimmedDataAccessException). Schema.StreamShards spreads the
//     records over shards by a hash of their keys (one item's records stay in
//     one shard, in order; ReadShard reads one shard), as a table's partitions
//     split its stream; shards do not split or merge.
//   - TTL: ExpireNow deletes items whose TTL attribute (N, epoch seconds) lies
//     in the past and writes REMOVE records carrying the TTL service identity.
//     AWS deletes expired items typically within days; the simulator deletes
//     only when asked.
//   - Global tables: Replicate links two tables in different Regions. Every
//     local change is applied to the peer after a configurable delay, in order,
//     with last-writer-wins by update time (version 2019.11.21 semantics). The
//     replicated copy carries the legacy attributes aws:rep:updateregion and
//     aws:rep:updatetime; local writes are stored as written. Replicated writes
//     are never replicated back.
//   - SetAvailable(false) makes every API call fail with
//     *types.InternalServerError, which the SDK treats as retryable. It does not
//     stop the stream or replication (use Replication.SetRegionDown for that).
//
// Not modelled: range keys, secondary indexes, UpdateItem, queries,
// transactions, batch operations, projection/filter expressions, capacity and
// throttling, item collection metrics, stream shards splitting, and the exact
// item size formula (sizes are a close approximation). This package is for
// tests and drills, never production.
package dynamo
