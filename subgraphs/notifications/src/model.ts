export type NotificationKind = 'FOLLOWED' | 'LIKED' | 'REPOSTED' | 'REPLIED' | 'MENTIONED';

/** A notification as the recipient sees it; actor and tweet are references the router resolves. */
export interface NotificationModel {
  id: string;
  kind: NotificationKind;
  actor: UserReference;
  tweet: TweetReference | null;
  createdAt: Date;
  read: boolean;
}

/** Entities of other subgraphs, by key. */
export interface TweetReference {
  id: string;
}

export interface UserReference {
  id: string;
}
