// Hive Gateway 2.15 declares Node >= 22.15; on Node 20 it only lacks Promise.withResolvers (bench use only).
Promise.withResolvers ??= function withResolvers() {
  let resolve, reject;
  const promise = new Promise((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
};
