/** The private parts of libraries the app reads (see `protocol/room.ts`), checked so that a
 * release that changes them fails here instead of silently sending everyone's presence. */

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { WebsocketProvider } from 'y-websocket';
import { Awareness } from 'y-protocols/awareness';
import * as Y from 'yjs';

test('y-websocket still sends presence through _awarenessUpdateHandler', () => {
  const doc = new Y.Doc();
  // Our own awareness, destroyed below: the provider's would keep a timer (and node) alive.
  const awareness = new Awareness(doc);
  const provider = new WebsocketProvider('ws://127.0.0.1:9', 'room', doc, {
    connect: false, awareness, WebSocketPolyfill: class {} as unknown as typeof WebSocket,
  });
  try {
    const handler = (provider as unknown as { _awarenessUpdateHandler?: unknown })._awarenessUpdateHandler;
    assert.equal(typeof handler, 'function', 'y-websocket renamed its awareness update handler: sendOnlyOwnPresence no longer filters');
  } finally {
    provider.destroy();
    awareness.destroy();
    doc.destroy();
  }
});
