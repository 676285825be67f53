import js from "@eslint/js";
import tseslint from "typescript-eslint";

export default tseslint.config(
  { ignores: ["dist/**", "node_modules/**", ".node24/**", ".runtimes/**", "docs/api/**", "coverage/**", ".scratch*/**"] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ["**/*.ts"],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      "@typescript-eslint/no-floating-promises": [
        "error",
        { allowForKnownSafeCalls: [{ from: "package", package: "node:test", name: ["test", "describe", "it", "suite", "before", "after", "beforeEach", "afterEach"] }] },
      ],
      "@typescript-eslint/no-misused-promises": ["error", { checksVoidReturn: false }],
      "@typescript-eslint/no-explicit-any": "off",
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_", caughtErrors: "none" }],
    },
  },
  {
    // The library says where it gives up on types, one justified line at a time; tests may poke at internals.
    files: ["src/**/*.ts"],
    rules: {
      "@typescript-eslint/no-explicit-any": "error",
      // Node defines these three globals as getters: each use from the global costs a getter call (measured on the
      // streams path of Node 24). Taken from src/_internal/node.ts, they are plain module bindings.
      "no-restricted-globals": [
        "error",
        { name: "process", message: "take `process` from src/_internal/node.ts (the global is a getter)" },
        { name: "Buffer", message: "take `Buffer` from src/_internal/node.ts (the global is a getter)" },
        { name: "performance", message: "take `performance` from src/_internal/node.ts (the global is a getter)" },
      ],
      // A built-in imported as an ES module loads whatever its lazy getters load, for good (see src/_internal/node.ts).
      // Types cost nothing.
      "@typescript-eslint/no-restricted-imports": [
        "error",
        {
          patterns: [
            {
              regex: "^node:",
              allowTypeImports: true,
              message: "take values of Node's built-ins from src/_internal/node.ts (an ES import of a built-in loads its lazy parts)",
            },
          ],
        },
      ],
    },
  },
  {
    // The files that may import built-ins: the one that takes them for the library, and the tools of the command line.
    files: ["src/_internal/node.ts", "src/_internal/tools/ps.ts", "src/_internal/tools/inspector_client.ts"],
    rules: { "@typescript-eslint/no-restricted-imports": "off" },
  },
  {
    files: ["**/*.js", "**/*.mjs"],
    languageOptions: { globals: { process: "readonly", console: "readonly", setTimeout: "readonly", setImmediate: "readonly", clearTimeout: "readonly", performance: "readonly", URL: "readonly" } },
  },
);
