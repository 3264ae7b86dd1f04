/** A user as other subgraphs refer to it: the key only. */
export interface UserReference {
  id: string;
}
