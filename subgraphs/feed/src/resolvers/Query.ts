import { selectedFieldNames } from '../../../../platform/graphql/selection.js';
import type { QueryResolvers } from '../__generated__/resolvers-types.js';

export const Query: QueryResolvers = {
  feed: (_root, { first, after }, { services }, info) => {
    const asked = selectedFieldNames(info, ['edges', 'node']);
    return services.feed.homeTimeline(
      { first, after },
      {
        counts: asked.has('likeCount') || asked.has('repostCount'),
        viewerHas: asked.has('viewerHasLiked') || asked.has('viewerHasReposted'),
      },
    );
  },
};
