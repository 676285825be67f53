// The trivial function of W8, as a module: piscina's worker file (its default export is the task).
export default function addOne(x) {
  return x + 1;
}
