import { type GraphQLResolveInfo, Kind, type SelectionSetNode } from 'graphql';

/**
 * The names of the fields a resolver's selection asks for at `path` below it (e.g. ['edges', 'node'] under a
 * connection), through fragments and inline fragments, whatever their aliases: so a resolver can read at once, for a
 * whole list, what the list's items would each ask for. Directives (@skip, @include) are not evaluated: a field they
 * leave out still counts, so what is read is never less than what is asked.
 */
export function selectedFieldNames(info: GraphQLResolveInfo, path: readonly string[]): Set<string> {
  let level = info.fieldNodes.flatMap((field) => (field.selectionSet ? [field.selectionSet] : []));
  for (const name of path)
    level = fieldsOf(info, level).flatMap((field) =>
      field.name.value === name && field.selectionSet ? [field.selectionSet] : [],
    );
  return new Set(fieldsOf(info, level).map((field) => field.name.value));
}

function fieldsOf(info: GraphQLResolveInfo, selectionSets: SelectionSetNode[]) {
  const fields = [];
  // Fragments spread into fragments are expanded once each: a valid document has no cycles, and none is read twice.
  const spread = new Set<string>();
  const pending = selectionSets.flatMap((set) => set.selections);
  while (pending.length > 0) {
    const selection = pending.pop()!;
    if (selection.kind === Kind.FIELD) fields.push(selection);
    else if (selection.kind === Kind.INLINE_FRAGMENT) pending.push(...selection.selectionSet.selections);
    else if (!spread.has(selection.name.value)) {
      spread.add(selection.name.value);
      pending.push(...(info.fragments[selection.name.value]?.selectionSet.selections ?? []));
    }
  }
  return fields;
}
