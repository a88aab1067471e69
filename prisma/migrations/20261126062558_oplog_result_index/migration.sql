-- CreateIndex
CREATE INDEX "OpLog_result_at_idx" ON "OpLog"("result", "at");
