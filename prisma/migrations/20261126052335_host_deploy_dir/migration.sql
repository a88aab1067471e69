-- AlterTable
ALTER TABLE "Host" ADD COLUMN "deployDir" TEXT;
