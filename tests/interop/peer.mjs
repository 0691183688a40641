// A JupyterLab-like collaboration peer in Node, driven by test_yjs_interop.py.
//
// Protocol: one JSON object per line on stdin, each with an "id" and a "cmd"; exactly one
// JSON line on stdout answers each command: {"id", "ok": true, ...} or {"id", "ok": false,
// "error"}. Commands may wait (for sync, a text, a presence, a save reply); each such wait has
// its own timeout so that a broken server yields an error line, not a hang. Diagnostics go to
// stderr only: stdout carries nothing but answers.
//
// The document side is built the way JupyterLab's docprovider builds it: the shared model
// (@jupyter/ydoc YNotebook or YFile) owns the Y.Doc and the awareness, and the y-websocket
// provider is bound to that doc and that awareness. Every read and edit goes through the
// model API that JupyterLab's notebook and editor use.

import { createInterface } from 'node:readline'
import { YFile, YNotebook } from '@jupyter/ydoc'
import * as decoding from 'lib0/decoding'
import * as encoding from 'lib0/encoding'
import WebSocket from 'ws'
import { WebsocketProvider } from 'y-websocket'
import * as Y from 'yjs'

console.log = console.error // keep library chatter off the answer channel

const MESSAGE_RAW = 2 // Jupyter's extension of y-websocket (collides with "auth")

let model = null // YNotebook | YFile
let provider = null
let nextSaveId = 0
const rawMessages = [] // every RAW JSON message received, in order
const closes = [] // {code, reason} of every socket close seen
const waiters = new Set() // functions re-checked after every change

function notifyWaiters () {
  for (const check of [...waiters]) check()
}

// Resolve when predicate() holds (checked now and after every doc, awareness, RAW or
// socket event); reject after timeoutMs with a message that says what was awaited.
function waitUntil (predicate, timeoutMs, what) {
  return new Promise((resolve, reject) => {
    const check = () => {
      let value
      try {
        value = predicate()
      } catch (err) {
        finish()
        reject(err)
        return
      }
      if (value !== undefined && value !== false) {
        finish()
        resolve(value)
      }
    }
    const timer = setTimeout(() => {
      finish()
      const described = typeof what === 'function' ? what() : what
      reject(new Error(`timed out after ${timeoutMs} ms waiting for ${described}`))
    }, timeoutMs)
    const finish = () => {
      clearTimeout(timer)
      waiters.delete(check)
    }
    waiters.add(check)
    check()
  })
}

function requireModel () {
  if (model === null) throw new Error('not connected')
  return model
}

function textOf (cellIndex) {
  const m = requireModel()
  return cellIndex === undefined || cellIndex === null
    ? m.getSource()
    : m.getCell(cellIndex).getSource()
}

function requireProvider () {
  if (provider === null) throw new Error('not connected')
  return provider
}

function awarenessStates () {
  const states = {}
  for (const [clientId, state] of provider.awareness.getStates()) states[clientId] = state
  return states
}

const commands = {
  // Open a room like JupyterLab does and wait for the first SyncStep2.
  async connect ({ serverUrl, room, sessionId, token, kind, timeoutMs = 10000 }) {
    if (model !== null) throw new Error('already connected')
    model = kind === 'file' ? new YFile() : YNotebook.create()
    model.ydoc.on('update', notifyWaiters)
    model.awareness.on('change', notifyWaiters)
    const params = { sessionId }
    if (token) params.token = token
    provider = new WebsocketProvider(serverUrl, room, model.ydoc, {
      WebSocketPolyfill: WebSocket,
      params,
      disableBc: true,
      awareness: model.awareness
    })
    provider.on('connection-close', (event) => {
      closes.push({ code: event ? event.code : null, reason: event ? event.reason : null })
      notifyWaiters()
    })
    provider.on('sync', notifyWaiters)
    const handleAuth = provider.messageHandlers[MESSAGE_RAW]
    provider.messageHandlers[MESSAGE_RAW] = (encoder, decoder, ...rest) => {
      // A RAW frame is a varString holding JSON. An empty string would be y-websocket's
      // "permission denied"; hand that to the stock handler so it shows as it would in Lab.
      const start = decoder.pos
      const text = decoding.readVarString(decoder)
      if (text.length === 0) {
        decoder.pos = start
        handleAuth(encoder, decoder, ...rest)
        return
      }
      rawMessages.push(JSON.parse(text))
      notifyWaiters()
    }
    await waitUntil(() => {
      if (provider.synced) return true
      if (closes.length > 0) {
        const { code, reason } = closes[0]
        throw new Error(`socket closed before sync: code=${code} reason=${reason}`)
      }
      return false
    }, timeoutMs, 'the first sync')
    return { clientId: model.ydoc.clientID }
  },

  // The document as JupyterLab's model serializes it; `types` reports the JS type of the numeric fields, which JSON alone cannot show.
  read () {
    const m = requireModel()
    if (m instanceof YFile) return { source: m.getSource(), state: m.ystate.toJSON() }
    const types = {
      nbformat: typeof m.nbformat,
      nbformat_minor: typeof m.nbformat_minor,
      execution_count: m.cells.map((c) => (c.cell_type === 'code' ? typeof c.execution_count : null))
    }
    return { notebook: m.toJSON(), state: m.ystate.toJSON(), types }
  },

  // Type into a cell's source (or the file's source) at a UTF-16 offset; -1 means the end.
  insertText ({ cell, index, text }) {
    const m = requireModel()
    const target = cell === undefined || cell === null ? m : m.getCell(cell)
    const at = index === -1 ? target.ysource.length : index
    target.updateSource(at, at, text)
    return { source: target.getSource() }
  },

  // Wait for a review thread (written by the server into the "comments" root) and return it.
  async waitThread ({ threadId, timeoutMs = 10000 }) {
    const comments = requireModel().ydoc.getMap('comments')
    await waitUntil(() => comments.has(threadId), timeoutMs, `thread ${threadId}`)
    return { thread: comments.get(threadId).toJSON() }
  },

  // Where a relative position (Yjs JSON, as the server stores anchors) is now, as Yjs
  // resolves it: a UTF-16 index into the text it belongs to, or null.
  resolvePosition ({ position }) {
    const absolute = Y.createAbsolutePositionFromRelativePosition(
      Y.createRelativePositionFromJSON(position), requireModel().ydoc)
    return { index: absolute === null ? null : absolute.index }
  },

  // Insert a cell through the notebook model, as the "insert cell" commands do.
  insertCell ({ index, cell }) {
    const created = requireModel().insertCell(index, cell)
    return { cellId: created.getId(), cellCount: model.cells.length }
  },

  // Wait until a cell's source (or the file's source) is exactly `equals`.
  async waitText ({ cell, equals, timeoutMs = 10000 }) {
    await waitUntil(() => textOf(cell) === equals, timeoutMs,
      () => `source ${JSON.stringify(equals)} (have ${JSON.stringify(textOf(cell))})`)
    return { source: textOf(cell) }
  },

  setAwareness ({ state }) {
    requireProvider().awareness.setLocalState(state)
    return { clientId: model.ydoc.clientID }
  },

  setAwarenessField ({ field, value }) {
    requireProvider().awareness.setLocalStateField(field, value)
    return { clientId: model.ydoc.clientID }
  },

  // Every awareness state this peer knows (its own included), keyed by client id.
  awareness () {
    requireProvider()
    return { states: awarenessStates() }
  },

  // Wait until some remote client's state has every key/value of `matching`.
  async waitAwareness ({ matching, timeoutMs = 10000 }) {
    requireProvider()
    const found = () => {
      for (const [clientId, state] of provider.awareness.getStates()) {
        if (clientId === model.ydoc.clientID || state === null) continue
        const hit = Object.entries(matching).every(
          ([key, value]) => JSON.stringify(state[key]) === JSON.stringify(value))
        if (hit) return { clientId, state }
      }
      return false
    }
    return await waitUntil(found, timeoutMs, `a remote state matching ${JSON.stringify(matching)}`)
  },

  // Ask the server to save, as the docprovider does on Ctrl+S, and wait for its reply.
  async save ({ timeoutMs = 10000 }) {
    const ws = requireProvider().ws
    if (ws === null || ws.readyState !== ws.OPEN) throw new Error('the socket is not open')
    const requestId = ++nextSaveId
    const encoder = encoding.createEncoder()
    encoding.writeVarUint(encoder, MESSAGE_RAW)
    encoding.writeVarString(encoder, 'save')
    encoding.writeVarUint(encoder, requestId)
    ws.send(encoding.toUint8Array(encoder))
    const reply = await waitUntil(
      () => rawMessages.find((m) => m.type === 'save' && m.responseTo === requestId),
      timeoutMs, `the reply to save request ${requestId}`)
    return { requestId, reply }
  },

  // What this peer has observed about its connection.
  status () {
    return {
      synced: provider !== null && provider.synced,
      connected: provider !== null && provider.wsconnected,
      closes,
      raw: rawMessages
    }
  },

  // Leave the room cleanly: y-websocket sends the awareness removal, then closes the socket.
  close () {
    if (provider !== null) provider.destroy()
    if (model !== null) model.dispose()
    provider = null
    model = null
    return { closed: true }
  }
}

function answer (message) {
  process.stdout.write(JSON.stringify(message) + '\n')
}

async function dispatch (line) {
  let request
  try {
    request = JSON.parse(line)
  } catch (err) {
    answer({ id: null, ok: false, error: `bad command line: ${err.message}` })
    return
  }
  const { id, cmd, ...args } = request
  const handler = Object.hasOwn(commands, cmd) ? commands[cmd] : null
  if (handler === null) {
    answer({ id, ok: false, error: `unknown command ${JSON.stringify(cmd)}` })
    return
  }
  try {
    answer({ id, ok: true, ...(await handler(args)) })
  } catch (err) {
    answer({ id, ok: false, error: err && err.message ? err.message : String(err) })
  }
}

const input = createInterface({ input: process.stdin })
input.on('line', (line) => {
  if (line.trim()) dispatch(line)
})
input.on('close', () => {
  // The test closed our stdin: leave the room (if still in it) and exit.
  commands.close()
  setTimeout(() => process.exit(0), 50).unref()
})
answer({ id: 0, ok: true, ready: true, node: process.version })
