/**
 * Maps that keep bounded memory whatever their keys: what a peer can make us remember (an
 * address, a session, a certificate's bytes, a file's content) must not grow without end.
 */

/** Map.set that keeps the map at `max` entries by forgetting the least recently set one. */
export function setCapped<K, V>(map: Map<K, V>, key: K, value: V, max = 10_000): void {
  map.delete(key);
  if (map.size >= max) map.delete(map.keys().next().value as K);
  map.set(key, value);
}
