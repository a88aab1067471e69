// Host page: the "Test connection" button logs in over SSH (through jump hosts) and pins an unknown host key.
import { testButton } from './lib/ui.js';

testButton('test-host', 'host-test-result', 'Connecting…', {
  lines: (result) => [result.message, result.fingerprint ? 'Host key: ' + result.fingerprint : ''],
  after: (result) => {
    const label = document.getElementById('pinned-fingerprint');
    if (label && result.pinned && result.pinned.length && result.fingerprint) label.textContent = result.fingerprint + ' (just pinned; reload to edit)';
  },
});
