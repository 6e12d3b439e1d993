import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import ts from "typescript";

/**
 * The import graph of a source tree and its cycles, resolved the way the compiler resolves them (tsconfig,
 * the `#shared/...` package imports). Type-only and dynamic imports count too: a cycle through types still
 * ties the modules together, and a lazy import is still an edge.
 */
export function importGraph(root: string, dirs: string[]): Map<string, string[]> {
  const configPath = join(root, "tsconfig.json");
  const config = ts.parseJsonConfigFileContent(
    ts.readConfigFile(configPath, ts.sys.readFile).config,
    ts.sys,
    root,
  );
  const files = dirs.flatMap((dir) => sourcesIn(join(root, dir)));
  const inTree = new Set(files);
  const cache = ts.createModuleResolutionCache(root, (name) => name, config.options);
  const graph = new Map<string, string[]>();
  for (const file of files) {
    const { importedFiles } = ts.preProcessFile(readFileSync(file, "utf8"), true, true);
    const targets = new Set<string>();
    for (const imported of importedFiles) {
      const resolved = ts.resolveModuleName(
        imported.fileName,
        file,
        config.options,
        ts.sys,
        cache,
      ).resolvedModule;
      if (resolved !== undefined && inTree.has(resolved.resolvedFileName))
        targets.add(resolved.resolvedFileName);
    }
    graph.set(
      rel(root, file),
      [...targets].map((target) => rel(root, target)),
    );
  }
  return graph;
}

function rel(root: string, file: string): string {
  return relative(root, file).split("\\").join("/");
}

function sourcesIn(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((entry) => entry.isFile() && /\.tsx?$/.test(entry.name) && !entry.name.endsWith(".d.ts"))
    .map((entry) => join(entry.parentPath, entry.name));
}

/** Each strongly connected group of two or more modules (or one importing itself), sorted. */
export function importCycles(graph: Map<string, string[]>): string[][] {
  // Tarjan's algorithm, iterative so a deep tree cannot overflow the stack.
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const onStack = new Set<string>();
  const stack: string[] = [];
  const groups: string[][] = [];
  let next = 0;
  for (const start of graph.keys()) {
    if (index.has(start)) continue;
    const work: { node: string; edge: number }[] = [{ node: start, edge: 0 }];
    index.set(start, next);
    low.set(start, next++);
    stack.push(start);
    onStack.add(start);
    while (work.length > 0) {
      const frame = work[work.length - 1] as { node: string; edge: number };
      const edges = graph.get(frame.node) ?? [];
      if (frame.edge < edges.length) {
        const to = edges[frame.edge++] as string;
        if (!index.has(to)) {
          index.set(to, next);
          low.set(to, next++);
          stack.push(to);
          onStack.add(to);
          work.push({ node: to, edge: 0 });
        } else if (onStack.has(to)) {
          low.set(frame.node, Math.min(low.get(frame.node) as number, index.get(to) as number));
        }
        continue;
      }
      work.pop();
      const parent = work[work.length - 1];
      if (parent !== undefined)
        low.set(parent.node, Math.min(low.get(parent.node) as number, low.get(frame.node) as number));
      if (low.get(frame.node) !== index.get(frame.node)) continue;
      const group: string[] = [];
      let member: string | undefined;
      do {
        member = stack.pop() as string;
        onStack.delete(member);
        group.push(member);
      } while (member !== frame.node);
      const selfLoop = group.length === 1 && (graph.get(frame.node) ?? []).includes(frame.node);
      if (group.length > 1 || selfLoop) groups.push(group.sort());
    }
  }
  return groups.sort((a, b) => (a[0] as string).localeCompare(b[0] as string));
}
