/** Kafka API key names and role key sets as Cilium's policy knows them (policy-semantics §9). */

export const KAFKA_API_KEYS: Record<string, number> = {
  produce: 0, fetch: 1, offsets: 2, metadata: 3, leaderandisr: 4, stopreplica: 5,
  updatemetadata: 6, controlledshutdown: 7, offsetcommit: 8, offsetfetch: 9,
  findcoordinator: 10, joingroup: 11, heartbeat: 12, leavegroup: 13, syncgroup: 14,
  describegroups: 15, listgroups: 16, saslhandshake: 17, apiversions: 18, createtopics: 19,
  deletetopics: 20, deleterecords: 21, initproducerid: 22, offsetforleaderepoch: 23,
  addpartitionstotxn: 24, addoffsetstotxn: 25, endtxn: 26, writetxnmarkers: 27,
  txnoffsetcommit: 28, describeacls: 29, createacls: 30, deleteacls: 31,
  describeconfigs: 32, alterconfigs: 33,
};

export const KAFKA_ROLE_KEYS: Record<'produce' | 'consume', ReadonlySet<number>> = {
  produce: new Set([0, 3, 18]),
  consume: new Set([1, 2, 3, 8, 9, 10, 11, 12, 13, 14, 18]),
};

/** Keys whose requests carry topics: the topic constraint applies only to these. */
export const TOPIC_KEYS: ReadonlySet<number> = new Set(
  ['produce', 'fetch', 'offsets', 'metadata', 'leaderandisr', 'stopreplica', 'updatemetadata',
    'offsetcommit', 'offsetfetch', 'createtopics', 'deletetopics', 'deleterecords',
    'offsetforleaderepoch', 'addpartitionstotxn', 'writetxnmarkers', 'txnoffsetcommit',
    'alterreplicalogdirs', 'describelogdirs', 'createpartitions']
    .map((n) => KAFKA_API_KEYS[n])
    .filter((n): n is number => n !== undefined)
    .concat([34 /* alterreplicalogdirs */, 35 /* describelogdirs */, 37 /* createpartitions */]),
);

/** Topic-carrying keys whose topics Cilium's parser extracts. */
export const PARSED_TOPIC_KEYS: ReadonlySet<number> = new Set([0, 1, 2, 3, 8, 9]);

export function kafkaKeyByName(name: string): number | undefined {
  return KAFKA_API_KEYS[name.toLowerCase()];
}
