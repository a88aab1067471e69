-- CreateTable
CREATE TABLE "NotificationChannel" (
    "id" INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    "projectId" INTEGER NOT NULL,
    "name" TEXT NOT NULL,
    "kind" TEXT NOT NULL,
    "urlEnc" TEXT,
    "urlHint" TEXT NOT NULL DEFAULT '',
    "secretEnc" TEXT,
    "to" TEXT NOT NULL DEFAULT '',
    "events" TEXT NOT NULL DEFAULT '',
    "enabled" BOOLEAN NOT NULL DEFAULT true,
    "lastStatus" TEXT NOT NULL DEFAULT '',
    "lastError" TEXT NOT NULL DEFAULT '',
    "lastAt" DATETIME,
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" DATETIME NOT NULL,
    CONSTRAINT "NotificationChannel_projectId_fkey" FOREIGN KEY ("projectId") REFERENCES "Project" ("id") ON DELETE CASCADE ON UPDATE CASCADE
);

-- CreateTable
CREATE TABLE "NotificationDelivery" (
    "id" INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    "channelId" INTEGER NOT NULL,
    "event" TEXT NOT NULL,
    "jobId" INTEGER,
    "payload" TEXT NOT NULL,
    "status" TEXT NOT NULL DEFAULT 'pending',
    "attempts" INTEGER NOT NULL DEFAULT 0,
    "nextAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "error" TEXT NOT NULL DEFAULT '',
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "sentAt" DATETIME,
    CONSTRAINT "NotificationDelivery_channelId_fkey" FOREIGN KEY ("channelId") REFERENCES "NotificationChannel" ("id") ON DELETE CASCADE ON UPDATE CASCADE
);

-- RedefineTables
PRAGMA defer_foreign_keys=ON;
PRAGMA foreign_keys=OFF;
CREATE TABLE "new_Grant" (
    "id" INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    "userId" INTEGER NOT NULL,
    "projectId" INTEGER NOT NULL,
    "canPublish" BOOLEAN NOT NULL DEFAULT false,
    "canRollback" BOOLEAN NOT NULL DEFAULT false,
    "canProcess" BOOLEAN NOT NULL DEFAULT false,
    "canApprove" BOOLEAN NOT NULL DEFAULT false,
    CONSTRAINT "Grant_userId_fkey" FOREIGN KEY ("userId") REFERENCES "User" ("id") ON DELETE CASCADE ON UPDATE CASCADE,
    CONSTRAINT "Grant_projectId_fkey" FOREIGN KEY ("projectId") REFERENCES "Project" ("id") ON DELETE CASCADE ON UPDATE CASCADE
);
INSERT INTO "new_Grant" ("canProcess", "canPublish", "canRollback", "id", "projectId", "userId") SELECT "canProcess", "canPublish", "canRollback", "id", "projectId", "userId" FROM "Grant";
DROP TABLE "Grant";
ALTER TABLE "new_Grant" RENAME TO "Grant";
CREATE UNIQUE INDEX "Grant_userId_projectId_key" ON "Grant"("userId", "projectId");
CREATE TABLE "new_Job" (
    "id" INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    "kind" TEXT NOT NULL,
    "status" TEXT NOT NULL DEFAULT 'queued',
    "projectId" INTEGER NOT NULL,
    "userId" INTEGER,
    "userName" TEXT NOT NULL,
    "revision" INTEGER,
    "files" TEXT NOT NULL DEFAULT '[]',
    "params" TEXT NOT NULL DEFAULT '{}',
    "note" TEXT NOT NULL DEFAULT '',
    "error" TEXT,
    "output" TEXT NOT NULL DEFAULT '',
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "startedAt" DATETIME,
    "finishedAt" DATETIME,
    "expiresAt" DATETIME,
    "decidedById" INTEGER,
    "decidedByName" TEXT,
    "decidedAt" DATETIME,
    "decisionNote" TEXT NOT NULL DEFAULT '',
    "waves" TEXT NOT NULL DEFAULT '',
    CONSTRAINT "Job_projectId_fkey" FOREIGN KEY ("projectId") REFERENCES "Project" ("id") ON DELETE CASCADE ON UPDATE CASCADE,
    CONSTRAINT "Job_userId_fkey" FOREIGN KEY ("userId") REFERENCES "User" ("id") ON DELETE SET NULL ON UPDATE CASCADE
);
INSERT INTO "new_Job" ("createdAt", "error", "files", "finishedAt", "id", "kind", "note", "output", "params", "projectId", "revision", "startedAt", "status", "userId", "userName") SELECT "createdAt", "error", "files", "finishedAt", "id", "kind", "note", "output", "params", "projectId", "revision", "startedAt", "status", "userId", "userName" FROM "Job";
DROP TABLE "Job";
ALTER TABLE "new_Job" RENAME TO "Job";
CREATE INDEX "Job_projectId_createdAt_idx" ON "Job"("projectId", "createdAt");
CREATE INDEX "Job_status_idx" ON "Job"("status");
CREATE TABLE "new_JobHost" (
    "id" INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    "jobId" INTEGER NOT NULL,
    "hostId" INTEGER,
    "hostName" TEXT NOT NULL,
    "status" TEXT NOT NULL DEFAULT 'queued',
    "phase" TEXT NOT NULL DEFAULT 'queued',
    "snapshotTaken" BOOLEAN NOT NULL DEFAULT false,
    "wave" INTEGER NOT NULL DEFAULT 0,
    "gate" TEXT NOT NULL DEFAULT '',
    "rolledBackByJobId" INTEGER,
    "exitCode" INTEGER,
    "error" TEXT,
    "output" TEXT NOT NULL DEFAULT '',
    "startedAt" DATETIME,
    "finishedAt" DATETIME,
    CONSTRAINT "JobHost_jobId_fkey" FOREIGN KEY ("jobId") REFERENCES "Job" ("id") ON DELETE CASCADE ON UPDATE CASCADE,
    CONSTRAINT "JobHost_hostId_fkey" FOREIGN KEY ("hostId") REFERENCES "Host" ("id") ON DELETE SET NULL ON UPDATE CASCADE
);
INSERT INTO "new_JobHost" ("error", "exitCode", "finishedAt", "hostId", "hostName", "id", "jobId", "output", "phase", "rolledBackByJobId", "snapshotTaken", "startedAt", "status") SELECT "error", "exitCode", "finishedAt", "hostId", "hostName", "id", "jobId", "output", "phase", "rolledBackByJobId", "snapshotTaken", "startedAt", "status" FROM "JobHost";
DROP TABLE "JobHost";
ALTER TABLE "new_JobHost" RENAME TO "JobHost";
CREATE INDEX "JobHost_hostId_idx" ON "JobHost"("hostId");
CREATE UNIQUE INDEX "JobHost_jobId_hostName_key" ON "JobHost"("jobId", "hostName");
CREATE TABLE "new_Project" (
    "id" INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    "name" TEXT NOT NULL,
    "description" TEXT NOT NULL DEFAULT '',
    "svnUrl" TEXT NOT NULL,
    "svnUsername" TEXT NOT NULL DEFAULT '',
    "svnPasswordEnc" TEXT,
    "deployDir" TEXT NOT NULL,
    "keepSnapshots" INTEGER NOT NULL DEFAULT 10,
    "concurrency" INTEGER NOT NULL DEFAULT 10,
    "requireApproval" BOOLEAN NOT NULL DEFAULT false,
    "rollbackNeedsApproval" BOOLEAN NOT NULL DEFAULT false,
    "approvalHours" INTEGER NOT NULL DEFAULT 24,
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" DATETIME NOT NULL
);
INSERT INTO "new_Project" ("concurrency", "createdAt", "deployDir", "description", "id", "keepSnapshots", "name", "svnPasswordEnc", "svnUrl", "svnUsername", "updatedAt") SELECT "concurrency", "createdAt", "deployDir", "description", "id", "keepSnapshots", "name", "svnPasswordEnc", "svnUrl", "svnUsername", "updatedAt" FROM "Project";
DROP TABLE "Project";
ALTER TABLE "new_Project" RENAME TO "Project";
CREATE UNIQUE INDEX "Project_name_key" ON "Project"("name");
PRAGMA foreign_keys=ON;
PRAGMA defer_foreign_keys=OFF;

-- CreateIndex
CREATE UNIQUE INDEX "NotificationChannel_projectId_name_key" ON "NotificationChannel"("projectId", "name");

-- CreateIndex
CREATE INDEX "NotificationDelivery_status_nextAt_idx" ON "NotificationDelivery"("status", "nextAt");

-- CreateIndex
CREATE INDEX "NotificationDelivery_channelId_createdAt_idx" ON "NotificationDelivery"("channelId", "createdAt");
