/**
 * Field tables of the Kafka APIs the proxy decodes (requests) and encodes (deny responses), and
 * the in-test broker answers. Written by hand from the field layouts of the Kafka message schemas
 * as listed in docs/kafka.md ("Codec", after the apache/kafka message JSON): field names are the
 * schemas' names so a reader can compare them line by line. `versions` is the range Tendril
 * parses; ApiVersions responses are clamped to it (docs/kafka.md "Version clamping"), so clients
 * never send a version beyond a table, and Produce/Fetch stop before their topic-ID versions.
 */
import { arr, arrOf, f, struct, type Field } from './schema.js';

export interface ApiTable {
  key: number;
  /** Lower-case name as Hubble prints it (`produce`, `fetch`, ...). */
  name: string;
  /** Versions with a table: [min, max]. */
  versions: [number, number];
  /** First flexible version (compact forms, tagged fields); Infinity when none in range. */
  flexible: number;
  request: readonly Field[];
  response: readonly Field[];
}

const produce: ApiTable = {
  key: 0,
  name: 'produce',
  versions: [0, 12],
  flexible: 9,
  request: [
    f('TransactionalId', 'string', '3+', { null: '3+' }),
    f('Acks', 'int16', '0+'),
    f('TimeoutMs', 'int32', '0+'),
    f('TopicData', arr([
      f('Name', 'string', '0+'),
      f('PartitionData', arr([f('Index', 'int32', '0+'), f('Records', 'records', '0+', { null: '0+' })]), '0+'),
    ]), '0+'),
  ],
  response: [
    f('Responses', arr([
      f('Name', 'string', '0+'),
      f('PartitionResponses', arr([
        f('Index', 'int32', '0+'),
        f('ErrorCode', 'int16', '0+'),
        f('BaseOffset', 'int64', '0+'),
        f('LogAppendTimeMs', 'int64', '2+'),
        f('LogStartOffset', 'int64', '5+'),
        f('RecordErrors', arr([f('BatchIndex', 'int32', '8+'), f('BatchIndexErrorMessage', 'string', '8+', { null: '8+' })]), '8+'),
        f('ErrorMessage', 'string', '8+', { null: '8+' }),
        f('CurrentLeader', struct([f('LeaderId', 'int32', '10+'), f('LeaderEpoch', 'int32', '10+')]), '10+', { tag: 0 }),
      ]), '0+'),
    ]), '0+'),
    f('ThrottleTimeMs', 'int32', '1+'),
    f('NodeEndpoints', arr([
      f('NodeId', 'int32', '10+'), f('Host', 'string', '10+'), f('Port', 'int32', '10+'), f('Rack', 'string', '10+', { null: '10+' }),
    ]), '10+', { tag: 0 }),
  ],
};

const fetch: ApiTable = {
  key: 1,
  name: 'fetch',
  versions: [0, 12],
  flexible: 12,
  request: [
    f('ClusterId', 'string', '12+', { null: '12+', tag: 0 }),
    f('ReplicaId', 'int32', '0-14'),
    f('MaxWaitMs', 'int32', '0+'),
    f('MinBytes', 'int32', '0+'),
    f('MaxBytes', 'int32', '3+'),
    f('IsolationLevel', 'int8', '4+'),
    f('SessionId', 'int32', '7+'),
    f('SessionEpoch', 'int32', '7+'),
    f('Topics', arr([
      f('Topic', 'string', '0-12'),
      f('Partitions', arr([
        f('Partition', 'int32', '0+'),
        f('CurrentLeaderEpoch', 'int32', '9+'),
        f('FetchOffset', 'int64', '0+'),
        f('LastFetchedEpoch', 'int32', '12+'),
        f('LogStartOffset', 'int64', '5+'),
        f('PartitionMaxBytes', 'int32', '0+'),
      ]), '0+'),
    ]), '0+'),
    f('ForgottenTopicsData', arr([f('Topic', 'string', '7-12'), f('Partitions', arrOf('int32'), '7+')]), '7+'),
    f('RackId', 'string', '11+'),
  ],
  response: [
    f('ThrottleTimeMs', 'int32', '1+'),
    f('ErrorCode', 'int16', '7+'),
    f('SessionId', 'int32', '7+'),
    f('Responses', arr([
      f('Topic', 'string', '0-12'),
      f('Partitions', arr([
        f('PartitionIndex', 'int32', '0+'),
        f('ErrorCode', 'int16', '0+'),
        f('HighWatermark', 'int64', '0+'),
        f('LastStableOffset', 'int64', '4+'),
        f('LogStartOffset', 'int64', '5+'),
        f('DivergingEpoch', struct([f('Epoch', 'int32', '12+'), f('EndOffset', 'int64', '12+')]), '12+', { tag: 0 }),
        f('CurrentLeader', struct([f('LeaderId', 'int32', '12+'), f('LeaderEpoch', 'int32', '12+')]), '12+', { tag: 1 }),
        f('SnapshotId', struct([f('EndOffset', 'int64', '0+'), f('Epoch', 'int32', '0+')]), '12+', { tag: 2 }),
        f('AbortedTransactions', arr([f('ProducerId', 'int64', '4+'), f('FirstOffset', 'int64', '4+')]), '4+', { null: '4+' }),
        f('PreferredReadReplica', 'int32', '11+'),
        f('Records', 'records', '0+', { null: '0+' }),
      ]), '0+'),
    ]), '0+'),
  ],
};

const listOffsets: ApiTable = {
  key: 2,
  name: 'offsets',
  versions: [0, 10],
  flexible: 6,
  request: [
    f('ReplicaId', 'int32', '0+'),
    f('IsolationLevel', 'int8', '2+'),
    f('Topics', arr([
      f('Name', 'string', '0+'),
      f('Partitions', arr([
        f('PartitionIndex', 'int32', '0+'),
        f('CurrentLeaderEpoch', 'int32', '4+'),
        f('Timestamp', 'int64', '0+'),
        f('MaxNumOffsets', 'int32', '0'),
      ]), '0+'),
    ]), '0+'),
    f('TimeoutMs', 'int32', '10+'),
  ],
  response: [
    f('ThrottleTimeMs', 'int32', '2+'),
    f('Topics', arr([
      f('Name', 'string', '0+'),
      f('Partitions', arr([
        f('PartitionIndex', 'int32', '0+'),
        f('ErrorCode', 'int16', '0+'),
        f('OldStyleOffsets', arrOf('int64'), '0'),
        f('Timestamp', 'int64', '1+'),
        f('Offset', 'int64', '1+'),
        f('LeaderEpoch', 'int32', '4+'),
      ]), '0+'),
    ]), '0+'),
  ],
};

const metadata: ApiTable = {
  key: 3,
  name: 'metadata',
  versions: [0, 12],
  flexible: 9,
  request: [
    f('Topics', arr([f('TopicId', 'uuid', '10+'), f('Name', 'string', '0+', { null: '10+' })]), '0+', { null: '1+' }),
    f('AllowAutoTopicCreation', 'bool', '4+'),
    f('IncludeClusterAuthorizedOperations', 'bool', '8-10'),
    f('IncludeTopicAuthorizedOperations', 'bool', '8+'),
  ],
  response: [
    f('ThrottleTimeMs', 'int32', '3+'),
    f('Brokers', arr([
      f('NodeId', 'int32', '0+'), f('Host', 'string', '0+'), f('Port', 'int32', '0+'), f('Rack', 'string', '1+', { null: '1+' }),
    ]), '0+'),
    f('ClusterId', 'string', '2+', { null: '2+' }),
    f('ControllerId', 'int32', '1+'),
    f('Topics', arr([
      f('ErrorCode', 'int16', '0+'),
      f('Name', 'string', '0+', { null: '12+' }),
      f('TopicId', 'uuid', '10+'),
      f('IsInternal', 'bool', '1+'),
      f('Partitions', arr([
        f('ErrorCode', 'int16', '0+'),
        f('PartitionIndex', 'int32', '0+'),
        f('LeaderId', 'int32', '0+'),
        f('LeaderEpoch', 'int32', '7+'),
        f('ReplicaNodes', arrOf('int32'), '0+'),
        f('IsrNodes', arrOf('int32'), '0+'),
        f('OfflineReplicas', arrOf('int32'), '5+'),
      ]), '0+'),
      f('TopicAuthorizedOperations', 'int32', '8+'),
    ]), '0+'),
    f('ClusterAuthorizedOperations', 'int32', '8-10'),
  ],
};

const offsetCommit: ApiTable = {
  key: 8,
  name: 'offsetcommit',
  versions: [0, 9],
  flexible: 8,
  request: [
    f('GroupId', 'string', '0+'),
    f('GenerationIdOrMemberEpoch', 'int32', '1+'),
    f('MemberId', 'string', '1+'),
    f('GroupInstanceId', 'string', '7+', { null: '7+' }),
    f('RetentionTimeMs', 'int64', '2-4'),
    f('Topics', arr([
      f('Name', 'string', '0+'),
      f('Partitions', arr([
        f('PartitionIndex', 'int32', '0+'),
        f('CommittedOffset', 'int64', '0+'),
        f('CommittedLeaderEpoch', 'int32', '6+'),
        f('CommitTimestamp', 'int64', '1'),
        f('CommittedMetadata', 'string', '0+', { null: '0+' }),
      ]), '0+'),
    ]), '0+'),
  ],
  response: [
    f('ThrottleTimeMs', 'int32', '3+'),
    f('Topics', arr([
      f('Name', 'string', '0+'),
      f('Partitions', arr([f('PartitionIndex', 'int32', '0+'), f('ErrorCode', 'int16', '0+')]), '0+'),
    ]), '0+'),
  ],
};

const offsetFetchPartitionsResp = (v: string): Field[] => [
  f('PartitionIndex', 'int32', v),
  f('CommittedOffset', 'int64', v),
  f('CommittedLeaderEpoch', 'int32', v === '0-7' ? '5-7' : v),
  f('Metadata', 'string', v, { null: v }),
  f('ErrorCode', 'int16', v),
];

const offsetFetch: ApiTable = {
  key: 9,
  name: 'offsetfetch',
  versions: [0, 9],
  flexible: 6,
  request: [
    f('GroupId', 'string', '0-7'),
    f('Topics', arr([f('Name', 'string', '0-7'), f('PartitionIndexes', arrOf('int32'), '0-7')]), '0-7', { null: '2-7' }),
    f('Groups', arr([
      f('GroupId', 'string', '8+'),
      f('MemberId', 'string', '9+', { null: '9+' }),
      f('MemberEpoch', 'int32', '9+'),
      f('Topics', arr([f('Name', 'string', '8+'), f('PartitionIndexes', arrOf('int32'), '8+')]), '8+', { null: '8+' }),
    ]), '8+'),
    f('RequireStable', 'bool', '7+'),
  ],
  response: [
    f('ThrottleTimeMs', 'int32', '3+'),
    f('Topics', arr([f('Name', 'string', '0-7'), f('Partitions', arr(offsetFetchPartitionsResp('0-7')), '0-7')]), '0-7'),
    f('ErrorCode', 'int16', '2-7'),
    f('Groups', arr([
      f('GroupId', 'string', '8+'),
      f('Topics', arr([f('Name', 'string', '8+'), f('Partitions', arr(offsetFetchPartitionsResp('8+')), '8+')]), '8+'),
      f('ErrorCode', 'int16', '8+'),
    ]), '8+'),
  ],
};

const findCoordinator: ApiTable = {
  key: 10,
  name: 'findcoordinator',
  versions: [0, 6],
  flexible: 3,
  request: [f('Key', 'string', '0-3'), f('KeyType', 'int8', '1+'), f('CoordinatorKeys', arrOf('string'), '4+')],
  response: [
    f('ThrottleTimeMs', 'int32', '1+'),
    f('ErrorCode', 'int16', '0-3'),
    f('ErrorMessage', 'string', '1-3', { null: '1-3' }),
    f('NodeId', 'int32', '0-3'),
    f('Host', 'string', '0-3'),
    f('Port', 'int32', '0-3'),
    f('Coordinators', arr([
      f('Key', 'string', '4+'),
      f('NodeId', 'int32', '4+'),
      f('Host', 'string', '4+'),
      f('Port', 'int32', '4+'),
      f('ErrorCode', 'int16', '4+'),
      f('ErrorMessage', 'string', '4+', { null: '4+' }),
    ]), '4+'),
  ],
};

const joinGroup: ApiTable = {
  key: 11,
  name: 'joingroup',
  versions: [0, 9],
  flexible: 6,
  request: [
    f('GroupId', 'string', '0+'),
    f('SessionTimeoutMs', 'int32', '0+'),
    f('RebalanceTimeoutMs', 'int32', '1+'),
    f('MemberId', 'string', '0+'),
    f('GroupInstanceId', 'string', '5+', { null: '5+' }),
    f('ProtocolType', 'string', '0+'),
    f('Protocols', arr([f('Name', 'string', '0+'), f('Metadata', 'bytes', '0+')]), '0+'),
    f('Reason', 'string', '8+', { null: '8+' }),
  ],
  response: [
    f('ThrottleTimeMs', 'int32', '2+'),
    f('ErrorCode', 'int16', '0+'),
    f('GenerationId', 'int32', '0+'),
    f('ProtocolType', 'string', '7+', { null: '7+' }),
    f('ProtocolName', 'string', '0+', { null: '7+' }),
    f('Leader', 'string', '0+'),
    f('SkipAssignment', 'bool', '9+'),
    f('MemberId', 'string', '0+'),
    f('Members', arr([f('MemberId', 'string', '0+'), f('GroupInstanceId', 'string', '5+', { null: '5+' }), f('Metadata', 'bytes', '0+')]), '0+'),
  ],
};

const heartbeat: ApiTable = {
  key: 12,
  name: 'heartbeat',
  versions: [0, 4],
  flexible: 4,
  request: [
    f('GroupId', 'string', '0+'),
    f('GenerationId', 'int32', '0+'),
    f('MemberId', 'string', '0+'),
    f('GroupInstanceId', 'string', '3+', { null: '3+' }),
  ],
  response: [f('ThrottleTimeMs', 'int32', '1+'), f('ErrorCode', 'int16', '0+')],
};

const leaveGroup: ApiTable = {
  key: 13,
  name: 'leavegroup',
  versions: [0, 5],
  flexible: 4,
  request: [
    f('GroupId', 'string', '0+'),
    f('MemberId', 'string', '0-2'),
    f('Members', arr([
      f('MemberId', 'string', '3+'), f('GroupInstanceId', 'string', '3+', { null: '3+' }), f('Reason', 'string', '5+', { null: '5+' }),
    ]), '3+'),
  ],
  response: [
    f('ThrottleTimeMs', 'int32', '1+'),
    f('ErrorCode', 'int16', '0+'),
    f('Members', arr([f('MemberId', 'string', '3+'), f('GroupInstanceId', 'string', '3+', { null: '3+' }), f('ErrorCode', 'int16', '3+')]), '3+'),
  ],
};

const syncGroup: ApiTable = {
  key: 14,
  name: 'syncgroup',
  versions: [0, 5],
  flexible: 4,
  request: [
    f('GroupId', 'string', '0+'),
    f('GenerationId', 'int32', '0+'),
    f('MemberId', 'string', '0+'),
    f('GroupInstanceId', 'string', '3+', { null: '3+' }),
    f('ProtocolType', 'string', '5+', { null: '5+' }),
    f('ProtocolName', 'string', '5+', { null: '5+' }),
    f('Assignments', arr([f('MemberId', 'string', '0+'), f('Assignment', 'bytes', '0+')]), '0+'),
  ],
  response: [
    f('ThrottleTimeMs', 'int32', '1+'),
    f('ErrorCode', 'int16', '0+'),
    f('ProtocolType', 'string', '5+', { null: '5+' }),
    f('ProtocolName', 'string', '5+', { null: '5+' }),
    f('Assignment', 'bytes', '0+'),
  ],
};

const apiVersions: ApiTable = {
  key: 18,
  name: 'apiversions',
  versions: [0, 4],
  flexible: 3,
  request: [f('ClientSoftwareName', 'string', '3+'), f('ClientSoftwareVersion', 'string', '3+')],
  response: [
    f('ErrorCode', 'int16', '0+'),
    f('ApiKeys', arr([f('ApiKey', 'int16', '0+'), f('MinVersion', 'int16', '0+'), f('MaxVersion', 'int16', '0+')]), '0+'),
    f('ThrottleTimeMs', 'int32', '1+'),
  ],
};

const createTopics: ApiTable = {
  key: 19,
  name: 'createtopics',
  versions: [0, 7],
  flexible: 5,
  request: [
    f('Topics', arr([
      f('Name', 'string', '0+'),
      f('NumPartitions', 'int32', '0+'),
      f('ReplicationFactor', 'int16', '0+'),
      f('Assignments', arr([f('PartitionIndex', 'int32', '0+'), f('BrokerIds', arrOf('int32'), '0+')]), '0+'),
      f('Configs', arr([f('Name', 'string', '0+'), f('Value', 'string', '0+', { null: '0+' })]), '0+'),
    ]), '0+'),
    f('timeoutMs', 'int32', '0+'),
    f('validateOnly', 'bool', '1+'),
  ],
  response: [
    f('ThrottleTimeMs', 'int32', '2+'),
    f('Topics', arr([
      f('Name', 'string', '0+'),
      f('TopicId', 'uuid', '7+'),
      f('ErrorCode', 'int16', '0+'),
      f('ErrorMessage', 'string', '1+', { null: '0+' }),
      f('TopicConfigErrorCode', 'int16', '5+', { tag: 0 }),
      f('NumPartitions', 'int32', '5+'),
      f('ReplicationFactor', 'int16', '5+'),
      f('Configs', arr([
        f('Name', 'string', '5+'),
        f('Value', 'string', '5+', { null: '5+' }),
        f('ReadOnly', 'bool', '5+'),
        f('ConfigSource', 'int8', '5+'),
        f('IsSensitive', 'bool', '5+'),
      ]), '5+', { null: '5+' }),
    ]), '0+'),
  ],
};

const deleteTopics: ApiTable = {
  key: 20,
  name: 'deletetopics',
  versions: [0, 5],
  flexible: 4,
  request: [f('TopicNames', arrOf('string'), '0-5'), f('TimeoutMs', 'int32', '0+')],
  response: [
    f('ThrottleTimeMs', 'int32', '1+'),
    f('Responses', arr([f('Name', 'string', '0+'), f('ErrorCode', 'int16', '0+'), f('ErrorMessage', 'string', '5+', { null: '5+' })]), '0+'),
  ],
};

const deleteRecords: ApiTable = {
  key: 21,
  name: 'deleterecords',
  versions: [0, 2],
  flexible: 2,
  request: [
    f('Topics', arr([
      f('Name', 'string', '0+'),
      f('Partitions', arr([f('PartitionIndex', 'int32', '0+'), f('Offset', 'int64', '0+')]), '0+'),
    ]), '0+'),
    f('TimeoutMs', 'int32', '0+'),
  ],
  response: [
    f('ThrottleTimeMs', 'int32', '0+'),
    f('Topics', arr([
      f('Name', 'string', '0+'),
      f('Partitions', arr([f('PartitionIndex', 'int32', '0+'), f('LowWatermark', 'int64', '0+'), f('ErrorCode', 'int16', '0+')]), '0+'),
    ]), '0+'),
  ],
};

const initProducerId: ApiTable = {
  key: 22,
  name: 'initproducerid',
  versions: [0, 5],
  flexible: 2,
  request: [
    f('TransactionalId', 'string', '0+', { null: '0+' }),
    f('TransactionTimeoutMs', 'int32', '0+'),
    f('ProducerId', 'int64', '3+'),
    f('ProducerEpoch', 'int16', '3+'),
  ],
  response: [f('ThrottleTimeMs', 'int32', '0+'), f('ErrorCode', 'int16', '0+'), f('ProducerId', 'int64', '0+'), f('ProducerEpoch', 'int16', '0+')],
};

const offsetForLeaderEpoch: ApiTable = {
  key: 23,
  name: 'offsetforleaderepoch',
  versions: [0, 4],
  flexible: 4,
  request: [
    f('ReplicaId', 'int32', '3+'),
    f('Topics', arr([
      f('Topic', 'string', '0+'),
      f('Partitions', arr([f('Partition', 'int32', '0+'), f('CurrentLeaderEpoch', 'int32', '2+'), f('LeaderEpoch', 'int32', '0+')]), '0+'),
    ]), '0+'),
  ],
  response: [
    f('ThrottleTimeMs', 'int32', '2+'),
    f('Topics', arr([
      f('Topic', 'string', '0+'),
      f('Partitions', arr([
        f('ErrorCode', 'int16', '0+'), f('Partition', 'int32', '0+'), f('LeaderEpoch', 'int32', '1+'), f('EndOffset', 'int64', '0+'),
      ]), '0+'),
    ]), '0+'),
  ],
};

/** Every table, by API key. */
export const API_TABLES: ReadonlyMap<number, ApiTable> = new Map(
  [produce, fetch, listOffsets, metadata, offsetCommit, offsetFetch, findCoordinator, joinGroup, heartbeat, leaveGroup, syncGroup,
    apiVersions, createTopics, deleteTopics, deleteRecords, initProducerId, offsetForLeaderEpoch].map((t) => [t.key, t]),
);

export function apiTable(key: number, version: number): ApiTable | null {
  const t = API_TABLES.get(key);
  return t && version >= t.versions[0] && version <= t.versions[1] ? t : null;
}

/** API key name as Cilium's policy and Hubble spell it (`produce`, `offsets`, ...); others as their number. */
export function apiKeyName(key: number): string {
  return API_TABLES.get(key)?.name ?? String(key);
}
