#!/usr/bin/env node
// Prints the syntax trees of the .bicep files named on the command line as one
// JSON document, for the Go tests in infra/ (infra_test.go), which do all the
// checking. Run it through `go test ./infra/`; by hand:
//   node infra/tools/bicep-syntax.js infra/main.bicep
//
// Output: {"grammar": "<version>", "files": [{"path", "error", "tree"}]}
// where a node is {"t": type, "f": field name, "p": [row, column] (0-based),
// "x": text (leaves and identifiers only), "k": [keywords], "e": true (an
// ERROR or MISSING node), "c": [children]}. Only named nodes are listed; the
// anonymous keywords and operators (existing, if, for, ==, !, ...) are kept in "k".
'use strict';

const fs = require('fs');
let Parser, Bicep;
try {
  Parser = require('tree-sitter');
  Bicep = require('tree-sitter-bicep');
} catch (err) {
  process.stderr.write(
    'bicep-syntax: the tree-sitter Bicep grammar is not installed: ' + err.message + '\n' +
    'install it with: npm ci --prefix infra/tools\n');
  process.exit(3);
}

// Anonymous tokens not worth keeping; keywords (existing, if, for, in) and operators (==, !, ??)
// are kept in "k".
const PUNCTUATION = new Set(['{', '}', '[', ']', '(', ')', ',', ':', "'", "'''", '${', '.', '=', '@', '\n']);

const LEAF_TEXT = new Set([
  'identifier', 'property_identifier', 'string_content', 'escape_sequence', 'number',
  'boolean', 'null', 'primitive_type', 'loop_variable', 'loop_enumerator', 'comment',
  'compatible_identifier', 'type',
]);

function convert(node, field) {
  const out = { t: node.type, p: [node.startPosition.row, node.startPosition.column] };
  if (field) out.f = field;
  if (node.type === 'ERROR' || node.isMissing) out.e = true;
  const kids = [];
  const kws = [];
  const cursor = node.walk();
  if (cursor.gotoFirstChild()) {
    do {
      const child = cursor.currentNode;
      if (child.isNamed) {
        kids.push(convert(child, cursor.currentFieldName));
      } else if (child.isMissing) {
        kids.push({ t: child.type, p: [child.startPosition.row, child.startPosition.column], e: true });
      } else if (!PUNCTUATION.has(child.type)) {
        kws.push(child.type);
      }
    } while (cursor.gotoNextSibling());
  }
  if (kids.length) out.c = kids;
  if (kws.length) out.k = kws;
  if (LEAF_TEXT.has(node.type) || kids.length === 0) out.x = node.text;
  return out;
}

const parser = new Parser();
parser.setLanguage(Bicep);
const files = [];
let failed = false;
for (const path of process.argv.slice(2)) {
  let src;
  try {
    src = fs.readFileSync(path, 'utf8');
  } catch (err) {
    files.push({ path, error: String(err.message) });
    failed = true;
    continue;
  }
  // The default buffer of the node binding is too small for long files.
  const tree = parser.parse(src, null, { bufferSize: Math.max(64 * 1024, src.length * 4) });
  files.push({ path, tree: convert(tree.rootNode) });
}
let grammar = 'unknown';
try { grammar = require('tree-sitter-bicep/package.json').version; } catch (_) { /* keep unknown */ }
// exitCode, not exit(): stdout to a pipe is written asynchronously.
process.stdout.write(JSON.stringify({ grammar, files }));
process.exitCode = failed ? 1 : 0;
