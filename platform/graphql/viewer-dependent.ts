import { type DocumentNode, Kind, visit } from 'graphql';

/**
 * Names of the fields marked @viewerDependent in a schema (the supergraph, or a subgraph's own): by name alone, which
 * is conservative: a name clash only costs sharing an answer, never shares one that depends on who asks.
 */
export function viewerDependentFieldNames(schema: DocumentNode): Set<string> {
  const names = new Set<string>();
  for (const definition of schema.definitions) {
    if (definition.kind !== Kind.OBJECT_TYPE_DEFINITION && definition.kind !== Kind.OBJECT_TYPE_EXTENSION) continue;
    for (const field of definition.fields ?? []) {
      if (field.directives?.some((directive) => directive.name.value === 'viewerDependent')) names.add(field.name.value);
    }
  }
  return names;
}

/** Whether the operation selects any field of these names (anywhere: fragments included). */
export function selectsFieldNamed(operation: DocumentNode, names: ReadonlySet<string>): boolean {
  let selects = false;
  visit(operation, {
    Field: (field) => {
      if (names.has(field.name.value)) selects = true;
    },
  });
  return selects;
}
