const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const TIME_UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-1[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Ids are uuids/timeuuids; anything else cannot name a row, so lookups answer "none" without asking Cassandra. */
export const isUuid = (value: string) => UUID.test(value);

/** Time-ordered ids (tweets, cursors): Cassandra refuses any other uuid version in a timeuuid column. */
export const isTimeUuid = (value: string) => TIME_UUID.test(value);
