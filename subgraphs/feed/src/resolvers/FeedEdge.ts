import type { FeedEdgeResolvers } from '../__generated__/resolvers-types.js';

export const FeedEdge: FeedEdgeResolvers = {
  repostedBy: (edge) => (edge.node.repostedBy ? { id: edge.node.repostedBy } : null),
};
