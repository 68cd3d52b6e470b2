// What the page knows, all of it from the event stream: hosts by name, recent commands, selection.

export const state = {
  hosts: new Map(),
  commands: new Map(),
  selected: new Set(),
  version: "0",
  desired: null,
};

export function rememberCommand(command) {
  state.commands.set(command.id, command);
  if (state.commands.size > 500) state.commands.delete(state.commands.keys().next().value);
}
