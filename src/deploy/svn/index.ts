// The engine's Subversion client: `svn` through execFile, the password on stdin (see client.ts).
export { SvnClient } from './client.ts';
export { checkRevision } from './cli.ts';
export { SvnError, svnErrorFromStderr, type SvnErrorKind } from './errors.ts';
export { parseInfoXml, parseListXml, parseLogXml, parseXml, projectRelative } from './xml.ts';
export type { SvnChangedPath, SvnClientOptions, SvnDirEntry, SvnInfo, SvnLogEntry, SvnRepository, SvnRevision } from './types.ts';
