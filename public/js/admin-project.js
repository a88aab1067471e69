// Project page: the "Test SVN" button asks the server to read the repository with the saved settings.
import { testButton } from './lib/ui.js';

testButton('test-svn', 'svn-test-result', 'Testing the saved SVN settings…');
