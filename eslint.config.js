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
      // streams path of Node 24). Imported, they are plain module bindings.
      "no-restricted-globals": [
        "error",
        { name: "process", message: 'import process from "node:process" (the global is a getter)' },
        { name: "Buffer", message: 'import { Buffer } from "node:buffer" (the global is a getter)' },
        { name: "performance", message: 'import { performance } from "node:perf_hooks" (the global is a getter)' },
      ],
    },
  },
  {
    files: ["**/*.js", "**/*.mjs"],
    languageOptions: { globals: { process: "readonly", console: "readonly", setTimeout: "readonly", setImmediate: "readonly", clearTimeout: "readonly", performance: "readonly", URL: "readonly" } },
  },
);
