/** The processes `npm start` runs, subgraphs before the router that calls them. */
export const SERVICES = [
  { name: 'users', entry: 'subgraphs/users/src/index.ts', portVariable: 'USERS_PORT', urlVariable: 'USERS_URL' },
  { name: 'tweets', entry: 'subgraphs/tweets/src/index.ts', portVariable: 'TWEETS_PORT', urlVariable: 'TWEETS_URL' },
  { name: 'follows', entry: 'subgraphs/follows/src/index.ts', portVariable: 'FOLLOWS_PORT', urlVariable: 'FOLLOWS_URL' },
  { name: 'feed', entry: 'subgraphs/feed/src/index.ts', portVariable: 'FEED_PORT', urlVariable: 'FEED_URL' },
  { name: 'router', entry: 'router/src/index.ts', portVariable: 'ROUTER_PORT', urlVariable: undefined },
] as const;
