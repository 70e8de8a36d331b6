# workerd's config for both workers, bundled by esbuild into dist-workerd/
# (no Node compatibility flag: ssepipe/web imports nothing from node:).
using Workerd = import "/workerd/workerd.capnp";

const config :Workerd.Config = (
  services = [
    (name = "feed", worker = .feed),
    (name = "room", worker = .room),
  ],
  sockets = [
    (name = "feed", address = "127.0.0.1:0", http = (), service = "feed"),
    (name = "room", address = "127.0.0.1:0", http = (), service = "room"),
  ],
);

const feed :Workerd.Worker = (
  modules = [(name = "worker.mjs", esModule = embed "dist-workerd/worker.mjs")],
  compatibilityDate = "2025-06-01",
);

const room :Workerd.Worker = (
  modules = [(name = "worker-room.mjs", esModule = embed "dist-workerd/worker-room.mjs")],
  compatibilityDate = "2025-06-01",
  # request.signal aborts when the client leaves (the body's cancel() is seen either way).
  compatibilityFlags = ["enable_request_signal"],
  durableObjectNamespaces = [(className = "Room", uniqueKey = "ssepipe-room")],
  durableObjectStorage = (inMemory = void),
  bindings = [(name = "ROOM", durableObjectNamespace = "Room")],
);
